"""utils/agents/fast_dqn.py: the in-graph DQN's pieces, replay, evaluation rule and training.

The pieces (epsilon, store_transitions, collect_step, td_targets, huber, train_step, ...) are
notebook 09's #@save cells, exported into the module; nothing here is timed."""

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
    assert int(agent.train_steps.numpy()) == 3 * SMALL.train_steps_per_iteration
    replay = {k: v.numpy() for k, v in agent.replay.items()}
    # Every stored transition is Gym's physics applied to the stored observation and action.
    expected, terminated = tf_cartpole.physics_step(
        tf.constant(replay["observation"]), tf.constant(replay["action"])
    )
    np.testing.assert_allclose(replay["next_observation"], expected.numpy(), atol=1e-6)
    np.testing.assert_array_equal(replay["discount"] == 0.0, terminated.numpy())
    np.testing.assert_array_equal(replay["reward"], 1.0)  # CartPole pays 1 on every step


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
    assert int(agent.train_steps.numpy()) > 0
    for old, new in zip(before, agent.target_params, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    assert any(
        not np.array_equal(p.numpy(), t.numpy())
        for p, t in zip(agent.params, agent.target_params, strict=True)
    )


def test_epsilon_falls_linearly_then_stays():
    s = fast_dqn.FAST
    values = [float(fast_dqn.epsilon(s, n)) for n in (0, s.epsilon_decay_env_steps // 2)]
    assert values == pytest.approx([s.epsilon_start, (s.epsilon_start + s.epsilon_end) / 2])
    for n in (s.epsilon_decay_env_steps, 10 * s.epsilon_decay_env_steps):
        assert float(fast_dqn.epsilon(s, n)) == pytest.approx(s.epsilon_end)


def test_epsilon_greedy_is_random_until_the_replay_warms_up_then_greedy():
    settings = SMALL.replace(
        num_envs=64, collect_steps_per_env=1, epsilon_start=0.0, epsilon_end=0.0
    )
    agent = fast_dqn.FastDqn(settings, seed=0)
    observation = tf.random.uniform([64, 4], -0.05, 0.05, seed=1)
    greedy = agent.greedy_actions(observation).numpy()
    warm_up = fast_dqn.epsilon_greedy(agent, observation).numpy()
    assert 0 < np.sum(warm_up != greedy) < 64  # random: about half differ from greedy
    agent.replay_size.assign(settings.initial_collect_steps)
    np.testing.assert_array_equal(fast_dqn.epsilon_greedy(agent, observation).numpy(), greedy)


def test_store_transitions_wraps_around_the_ring():
    agent = fast_dqn.FastDqn(SMALL.replace(replay_capacity=6, collect_steps_per_env=1), seed=0)
    for write in (1, 2, 3):
        fast_dqn.store_transitions(agent, {"action": tf.fill([4], write)})
    np.testing.assert_array_equal(agent.replay["action"].numpy(), [2, 2, 3, 3, 3, 3])
    assert int(agent.replay_next.numpy()) == 0 and int(agent.replay_size.numpy()) == 6


def test_td_targets_bootstrap_unless_terminated():
    agent = fast_dqn.FastDqn(SMALL, seed=0)
    next_observation = tf.random.uniform([3, 4], -0.05, 0.05, seed=2)
    batch = {
        "reward": tf.constant([1.0, 1.0, 2.0]),
        "next_observation": next_observation,
        "discount": tf.constant([0.0, 1.0, 1.0]),  # terminated, truncated (or running), running
    }
    best = np.max(agent.q_values(next_observation, agent.target_params).numpy(), axis=-1)
    expected = [1.0, 1.0 + SMALL.gamma * best[1], 2.0 + SMALL.gamma * best[2]]
    np.testing.assert_allclose(fast_dqn.td_targets(agent, batch).numpy(), expected, rtol=1e-6)


def test_train_step_lowers_the_loss_on_a_fixed_replay_and_syncs_on_schedule():
    settings = SMALL.replace(target_update_period=20, initial_collect_steps=0)
    agent = fast_dqn.FastDqn(settings, seed=0)
    for _ in range(16):
        fast_dqn.collect_step(agent)
    step = tf.function(lambda: fast_dqn.train_step(agent), autograph=False)
    losses = [float(step()) for _ in range(19)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert any(
        not np.array_equal(p.numpy(), t.numpy())
        for p, t in zip(agent.params, agent.target_params, strict=True)
    )
    step()  # train step 20: the target network becomes a copy of the Q-network
    for p, t in zip(agent.params, agent.target_params, strict=True):
        np.testing.assert_array_equal(p.numpy(), t.numpy())


def test_iterate_runs_the_collect_and_train_steps_it_is_given():
    calls = {"collect": 0, "train": 0}

    def collect(agent):  # traced once, run collect_steps_per_env times per call
        calls["collect"] += 1
        agent.env_steps.assign_add(agent.settings.num_envs)
        agent.replay_size.assign(agent.settings.initial_collect_steps)

    def train(agent):
        calls["train"] += 1
        agent.train_steps.assign_add(1)
        return tf.constant(7.0)

    agent = fast_dqn.FastDqn(SMALL, seed=0, collect_fn=collect, train_fn=train)
    assert float(agent.iterate()) == 7.0
    assert calls == {"collect": 1, "train": 1}  # each traced once into the loop's body
    assert int(agent.env_steps.numpy()) == SMALL.num_envs * SMALL.collect_steps_per_env
    assert int(agent.train_steps.numpy()) == SMALL.train_steps_per_iteration
    assert int(agent.replay_next.numpy()) == 0  # the module's collect_step never ran


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
