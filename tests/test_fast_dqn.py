"""utils/agents/fast_dqn.py: the in-graph DQN's replay, evaluation rule and training (not timed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf_agents")
gym = pytest.importorskip("gym")

import tensorflow as tf  # noqa: E402

from utils.agents import fast_dqn  # noqa: E402
from utils.envs import tf_cartpole  # noqa: E402

SMALL = fast_dqn.FAST.replace(
    num_envs=4, collect_steps_per_env=8, replay_capacity=64, initial_collect_steps=40
)


def test_settings_reject_bad_values():
    with pytest.raises(ValueError, match="num_envs"):
        fast_dqn.FAST.replace(num_envs=0)
    with pytest.raises(ValueError, match="gamma"):
        fast_dqn.FAST.replace(gamma=1.5)
    with pytest.raises(ValueError, match="replay_capacity"):
        fast_dqn.FAST.replace(replay_capacity=10)
    with pytest.raises(ValueError, match="observation_scale"):
        fast_dqn.FAST.replace(observation_scale=(1.0, 2.0))


def test_q_values_and_greedy_actions_have_batch_shapes():
    agent = fast_dqn.FastDqn(SMALL, seed=0)
    observation = tf.random.uniform([5, 4], -0.05, 0.05)
    assert agent.q_values(observation).shape == (5, 2)
    actions = agent.greedy_actions(observation).numpy()
    np.testing.assert_array_equal(actions, np.argmax(agent.q_values(observation).numpy(), -1))


def test_ring_buffer_fills_wraps_and_stores_true_transitions():
    agent = fast_dqn.FastDqn(SMALL, seed=0)
    per_iteration = SMALL.num_envs * SMALL.collect_steps_per_env  # 32
    assert np.isnan(float(agent.iterate()))  # fewer than initial_collect_steps: no training yet
    assert int(agent.replay_size.numpy()) == per_iteration
    assert int(agent.env_steps.numpy()) == per_iteration
    for _ in range(3):
        agent.iterate()
    assert int(agent.replay_size.numpy()) == SMALL.replay_capacity  # full, never more
    assert int(agent.replay_next.numpy()) == (4 * per_iteration) % SMALL.replay_capacity
    assert int(agent.train_step.numpy()) == 3 * SMALL.train_steps_per_iteration
    replay = {k: v.numpy() for k, v in agent.replay.items()}
    # Every stored transition is Gym's physics applied to the stored observation and action.
    expected, terminated = tf_cartpole.physics_step(
        tf.constant(replay["observation"]), tf.constant(replay["action"])
    )
    np.testing.assert_allclose(replay["next_observation"], expected.numpy(), atol=1e-6)
    np.testing.assert_array_equal(replay["discount"] == 0.0, terminated.numpy())


def test_truncation_keeps_discount_one():
    settings = SMALL.replace(max_episode_steps=3, initial_collect_steps=10_000)
    agent = fast_dqn.FastDqn(settings, seed=0)
    agent.iterate()  # 8 steps per environment: episodes cut at 3 steps, the pole still up
    discount = agent.replay["discount"].numpy()[
        : settings.num_envs * settings.collect_steps_per_env
    ]
    assert np.all(discount == 1.0)
    assert np.all(agent.env_steps_in_episode.numpy() < 3)


def test_targets_use_the_target_network_until_synchronised():
    settings = SMALL.replace(target_update_period=1000)
    agent = fast_dqn.FastDqn(settings, seed=0)
    before = [p.numpy().copy() for p in agent.target_params]
    for _ in range(2):
        agent.iterate()
    assert int(agent.train_step.numpy()) > 0
    for old, new in zip(before, agent.target_params, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    assert any(
        not np.array_equal(p.numpy(), t.numpy())
        for p, t in zip(agent.params, agent.target_params, strict=True)
    )


def gym_mean_return(policy, episodes, seed):
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(episodes):
        observation, total, done = env.reset(seed=seed + episode), 0.0, False
        while not done:
            observation, reward, done, _ = env.step(policy(observation))
            total += reward
        returns.append(total)
    return np.array(returns)


def test_in_graph_evaluation_follows_gyms_rule():
    """Same policy: the in-graph 100-episode average matches Gym's, capped at 500 steps."""
    settings = SMALL.replace(target_return=1.0)  # never stop early
    agent = fast_dqn.FastDqn(settings, seed=0)

    def weak(observation):  # pushes by the pole's angle only: falls after ~30-60 steps
        return tf.cast(observation[..., 2] > 0, tf.int32)

    agent.greedy_actions = weak
    agent._build_functions(False)
    means = [float(agent.evaluate()[0]) for _ in range(5)]  # 500 episodes in all
    gym_returns = gym_mean_return(lambda o: int(o[2] > 0), 500, seed=0)
    assert abs(np.mean(means) - gym_returns.mean()) < 3 * gym_returns.std() / np.sqrt(250)

    def strong(observation):  # a linear controller that balances to the time limit
        x, x_dot, theta, theta_dot = tf.unstack(observation, axis=-1)
        return tf.cast(10 * theta + 2 * theta_dot + 0.1 * x + 0.5 * x_dot > 0, tf.int32)

    agent.greedy_actions = strong
    agent._build_functions(False)
    mean, complete, returns = agent.evaluate()
    assert bool(complete) and returns.shape == (100,)
    assert float(tf.reduce_max(returns)) == 500.0  # capped at the 500-step limit
    assert float(mean) > 475


def test_evaluation_stops_early_when_the_target_is_out_of_reach():
    agent = fast_dqn.FastDqn(SMALL, seed=0)  # untrained: episodes of ~10 steps
    mean, complete, _ = agent.evaluate()
    assert not bool(complete)
    assert float(mean) < 100


def test_train_solves_cartpole_and_gym_agrees():
    agent, history = fast_dqn.train(fast_dqn.FAST, seed=0, progress=False)
    assert history.solved, history.summary()
    assert history.solved_return >= 475
    assert history.eval_complete[-1] and history.eval_returns[-1] == history.solved_return
    returns = fast_dqn.gym_evaluate(agent, 100, seed=123)
    assert returns.mean() >= 475, returns.mean()


def test_train_runs_with_xla_or_falls_back(capsys):
    settings = SMALL.replace(jit_compile=True, max_env_steps=64)
    _, history = fast_dqn.train(settings, seed=0, progress=False)
    assert history.env_steps == 64
    if not history.jit_compile:
        assert "XLA" in capsys.readouterr().out


def test_gym_evaluate_rejects_zero_episodes():
    agent = fast_dqn.FastDqn(SMALL, seed=0)
    with pytest.raises(ValueError, match="episodes"):
        fast_dqn.gym_evaluate(agent, 0)
