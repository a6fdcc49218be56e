"""utils/envs/tf_cartpole.py against Gym 0.23's CartPoleEnv, transition for transition."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf_agents")
gym = pytest.importorskip("gym")

import tensorflow as tf  # noqa: E402

from utils.envs import tf_cartpole  # noqa: E402

# Where random test states are drawn: beyond the termination thresholds on purpose, so that
# both "still up" and "fell" transitions are exercised.
STATE_HIGH = np.array([2.6, 3.0, 0.25, 3.5])


def gym_cartpole():
    """Gym's CartPole-v1 (with its 500-step TimeLimit)."""
    return gym.make("CartPole-v1")


def gym_transition(env, state, action):
    """Gym's next state (float64, before the float32 cast) and done flag from ``state``."""
    raw = env.unwrapped
    raw.state = tuple(float(v) for v in state)
    raw.steps_beyond_done = None
    _, reward, done, _ = raw.step(int(action))
    assert reward == 1.0
    return np.array(raw.state, dtype=np.float64), done


def random_states(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-STATE_HIGH, STATE_HIGH, size=(n, 4)), rng.integers(0, 2, size=n)


@pytest.fixture(scope="module")
def gym_reference():
    """5 000 random states and actions with Gym's next states and done flags."""
    env = gym_cartpole()
    env.reset(seed=0)
    states, actions = random_states(5000, seed=1)
    results = [gym_transition(env, s, a) for s, a in zip(states, actions, strict=True)]
    next_states = np.stack([r[0] for r in results])
    dones = np.array([r[1] for r in results])
    assert 0.2 < dones.mean() < 0.8, "the test states should cover both outcomes"
    return states, actions, next_states, dones


def test_float64_physics_matches_gym_exactly(gym_reference):
    states, actions, gym_next, gym_done = gym_reference
    next_states, terminated = tf_cartpole.physics_step(
        tf.constant(states, tf.float64), tf.constant(actions)
    )
    np.testing.assert_allclose(next_states.numpy(), gym_next, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(terminated.numpy(), gym_done)


def test_float32_physics_matches_gym_to_float_rounding(gym_reference):
    states, actions, gym_next, gym_done = gym_reference
    next_states, terminated = tf_cartpole.physics_step(
        tf.constant(states, tf.float32), tf.constant(actions)
    )
    np.testing.assert_allclose(next_states.numpy(), gym_next, rtol=1e-5, atol=1e-5)
    # The done flag may differ only where a state lands within float32 rounding of a threshold.
    margin = np.minimum(
        np.abs(np.abs(gym_next[:, 0]) - tf_cartpole.X_THRESHOLD),
        np.abs(np.abs(gym_next[:, 2]) - tf_cartpole.THETA_THRESHOLD),
    )
    clear = margin > 1e-5
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(terminated.numpy()[clear], gym_done[clear])


def test_reset_states_are_in_gyms_range():
    states = tf_cartpole.reset_states(tf.random.Generator.from_seed(0), 10_000).numpy()
    assert states.shape == (10_000, 4)
    assert np.all(np.abs(states) <= tf_cartpole.RESET_BOUND)
    assert np.all(states.std(axis=0) > 0.025)  # uniform on [-0.05, 0.05]: std ~0.029


def balancing_action(observation):
    """A linear controller that keeps CartPole up for 500 steps from most starts."""
    x, x_dot, theta, theta_dot = np.asarray(observation, dtype=np.float64).T
    return (theta * 10 + theta_dot * 2 + x * 0.1 + x_dot * 0.5 > 0).astype(np.int64)


@pytest.mark.parametrize("policy", ["random", "balancing"])
def test_tf_environment_plays_the_same_episodes_as_gym(policy):
    """Same start states and actions: identical observations, step types, rewards, discounts."""
    batch = 8
    env = tf_cartpole.TFCartPole(batch, seed=3, dtype=tf.float64)
    env.reset()
    gyms = [gym_cartpole() for _ in range(batch)]
    starts = np.random.default_rng(4).uniform(-0.05, 0.05, size=(batch, 4))
    env.set_state(starts)
    observations = []
    for g, start in zip(gyms, starts, strict=True):
        g.reset(seed=0)
        g.unwrapped.state = start.copy()
        observations.append(np.array(start, dtype=np.float32))
    done = np.zeros(batch, bool)
    rng = np.random.default_rng(5)
    lasts = truncations = 0
    for _ in range(tf_cartpole.MAX_EPISODE_STEPS):
        if policy == "random":
            actions = rng.integers(0, 2, size=batch)
        else:
            actions = balancing_action(np.stack(observations))
        time_step = env.step(tf.constant(actions))
        for i, g in enumerate(gyms):
            if done[i]:
                continue
            observation, reward, gym_done, info = g.step(int(actions[i]))
            observations[i] = observation
            np.testing.assert_allclose(
                time_step.observation.numpy()[i], observation, rtol=1e-6, atol=1e-7
            )
            assert time_step.reward.numpy()[i] == reward
            step_type = int(time_step.step_type.numpy()[i])
            assert step_type == (2 if gym_done else 1)
            if gym_done:
                done[i] = True
                lasts += 1
                truncated = info.get("TimeLimit.truncated", False)
                truncations += truncated
                assert time_step.discount.numpy()[i] == (1.0 if truncated else 0.0)
            else:
                assert time_step.discount.numpy()[i] == 1.0
        if done.all():
            break
    assert done.all()
    if policy == "balancing":
        assert truncations >= batch // 2, "the controller should reach the time limit"
    else:
        assert truncations == 0


def test_tf_environment_restarts_after_last_step():
    env = tf_cartpole.TFCartPole(2, seed=0, max_episode_steps=3)
    first = env.reset()
    assert list(first.step_type.numpy()) == [0, 0]
    action = tf.constant([1, 0], tf.int64)
    types = [list(env.step(action).step_type.numpy()) for _ in range(5)]
    assert types == [[1, 1], [1, 1], [2, 2], [0, 0], [1, 1]]
    restart = env.step(action)  # MID after the restart; rewards 1 again
    assert list(restart.reward.numpy()) == [1.0, 1.0]


def test_tf_environment_steps_inside_a_tf_function():
    from tf_agents.drivers import dynamic_step_driver
    from tf_agents.policies import random_tf_policy

    env = tf_cartpole.TFCartPole(16, seed=0)
    policy = random_tf_policy.RandomTFPolicy(env.time_step_spec(), env.action_spec())
    seen = []
    driver = dynamic_step_driver.DynamicStepDriver(
        env, policy, observers=[lambda traj: seen.append(1)], num_steps=16 * 20
    )
    run = tf.function(driver.run)
    time_step, _ = run(env.reset())
    assert time_step.observation.shape == (16, 4)
    assert np.all(np.abs(time_step.observation.numpy()[:, 0]) < 2.5)


def test_autoreset_step_resets_finished_environments():
    generator = tf.random.Generator.from_seed(0)
    state = tf.constant([[0.0, 0.0, 0.2, 2.0], [0.0, 0.0, 0.0, 0.0]], tf.float32)
    out = tf_cartpole.autoreset_step(state, tf.constant([10, 499]), tf.constant([1, 1]), generator)
    assert list(out["terminated"].numpy()) == [True, False]
    assert list(out["truncated"].numpy()) == [False, True]
    assert list(out["steps"].numpy()) == [0, 0]
    assert np.all(np.abs(out["state"].numpy()) <= tf_cartpole.RESET_BOUND)
    np.testing.assert_allclose(out["next_observation"].numpy()[1, 1], 0.195, rtol=1e-3)


def test_random_stepper_counts_episodes():
    run = tf_cartpole.random_stepper(64, seed=0)
    episodes = int(run(tf.constant(200)).numpy())
    # Random play lasts about 22 steps per episode: 64 * 200 / 22 ~ 580 episodes.
    assert 300 < episodes < 1000


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="batch_size"):
        tf_cartpole.TFCartPole(0)
    with pytest.raises(ValueError, match="dtype"):
        tf_cartpole.TFCartPole(2, dtype=tf.int32)


def test_state_device_names_a_device():
    env = tf_cartpole.TFCartPole(batch_size=2, seed=0)
    assert "device:" in env.state_device.lower()
