"""Unit tests of utils/agents/ppo.py: settings, the agent, collection, episode bookkeeping,
and PPO's pieces by hand (GAE and the clipped surrogate objective)."""

from __future__ import annotations

import numpy as np
import pytest
from scripted_env import ScriptedEnv
from tf_agents.environments import batched_py_environment
from tf_agents.policies import py_tf_eager_policy, random_py_policy

from utils.agents import ppo
from utils.rl.evaluation import evaluate

SMALL = ppo.PpoSettings(num_envs=2, collect_steps_per_env=8, actor_layers=(8,), value_layers=(8,))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"gamma": 1.5}, "gamma"),
        ({"gae_lambda": -0.1}, "gae_lambda"),
        ({"clip_ratio": 0.0}, "clip_ratio"),
        ({"num_envs": 0}, "num_envs"),
        ({"collect_steps_per_env": 1}, "collect_steps_per_env"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"actor_layers": ()}, "layers"),
        ({"solve_episodes": 5}, "solve_episodes"),
    ],
)
def test_bad_settings_are_clear_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        ppo.PpoSettings().replace(**changes)


def test_agent_policy_runs_on_the_environment():
    env = ppo.make_train_env(SMALL, seed=0)
    assert env.batch_size == 2
    agent = ppo.build_agent(SMALL, env)
    result = evaluate(ppo.make_train_env(SMALL, seed=1), agent.policy, num_episodes=2)
    assert result.complete and all(1 <= r <= 500 for r in result.returns)


def test_collect_and_one_train_step():
    import tensorflow as tf

    env = ppo.make_train_env(SMALL, seed=0)
    agent = ppo.build_agent(SMALL, env)
    policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, batch_time_steps=False)
    experience, time_step = ppo.collect(env, policy, None, num_steps=8)
    assert experience.observation.shape == (2, 8, 4)
    assert experience.action.shape == (2, 8)
    assert "dist_params" in experience.policy_info
    # Carrying on from where it stopped: the next batch starts with that time step.
    more, _ = ppo.collect(env, policy, time_step, num_steps=3)
    np.testing.assert_array_equal(more.observation[:, 0], time_step.observation)
    before = [v.numpy().copy() for v in agent.trainable_variables]
    loss = agent.train(tf.nest.map_structure(tf.convert_to_tensor, experience)).loss
    assert np.isfinite(float(loss))
    changed = [
        not np.allclose(b, v.numpy())
        for b, v in zip(before, agent.trainable_variables, strict=True)
    ]
    assert any(changed)


def test_collect_rejects_zero_steps():
    env = ppo.make_train_env(SMALL, seed=0)
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec())
    with pytest.raises(ValueError, match="num_steps"):
        ppo.collect(env, policy, None, num_steps=0)


def test_finished_episode_returns_on_scripted_episodes():
    # Two copies: episodes of 3, 5, 7 steps (reward 1 each) in each copy.
    env = batched_py_environment.BatchedPyEnvironment([ScriptedEnv(), ScriptedEnv()])
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    running = np.zeros(2)
    time_step, returns = None, []
    for _ in range(4):  # episodes cross the batch borders
        experience, time_step = ppo.collect(env, policy, time_step, num_steps=5)
        returns += ppo.finished_episode_returns(experience, running)
    # 20 steps per copy = 3 + 1 (reset) + 5 + 1 + 7 + 1 + 2 of the next: 3 episodes each.
    assert sorted(returns) == [3, 3, 5, 5, 7, 7]
    np.testing.assert_array_equal(running, [2, 2])


def test_finished_episode_returns_checks_shapes():
    env = batched_py_environment.BatchedPyEnvironment([ScriptedEnv(), ScriptedEnv()])
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    experience, _ = ppo.collect(env, policy, None, num_steps=3)
    with pytest.raises(ValueError, match="running"):
        ppo.finished_episode_returns(experience, np.zeros(3))


def test_checks_note_whether_each_full_check_ran_all_its_episodes():
    # A target any policy reaches: the quick check passes, then the full one.
    settings = SMALL.replace(eval_episodes=2, solve_episodes=3, target_return=5.0)
    env = ppo.make_train_env(settings, seed=0)
    history = ppo.PpoHistory()
    check = ppo.ppo_checks(ppo.build_agent(settings, env), settings, history, start=0.0)
    assert check(16)
    assert history.full_eval_complete == [True] and history.full_evals[0][0] == 16


def test_a_short_training_run_keeps_its_bookkeeping():
    settings = SMALL.replace(num_iterations=3, eval_gate=0.0, eval_interval=1, num_epochs=2)
    agent, history = ppo.train_from_scratch(settings, seed=0, progress=False)
    assert history.iterations == 3 and history.env_steps == 3 * 2 * 8
    assert len(history.eval_returns) == 3 and len(history.losses) == 3
    assert not history.solved and "not solved" in history.summary()
    assert int(agent.train_step_counter.numpy()) == 3 * 2  # one per epoch


def test_history_records_the_episodes_that_ended_in_each_batch():
    # Two copies, each playing episodes of 3, 5, 7 steps with a reset step between them.
    env = batched_py_environment.BatchedPyEnvironment([ScriptedEnv(), ScriptedEnv()])
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    history, running, time_step = ppo.PpoHistory(), np.zeros(2), None
    for batch in range(1, 5):  # 5 steps per copy: 10 environment steps per batch
        experience, time_step = ppo.collect(env, policy, time_step, num_steps=5)
        history.record_episodes(experience, running, env_steps=10 * batch)
    assert history.episode_returns == [3, 3, 5, 5, 7, 7]
    # Steps 0-2, 4-8 and 10-16 of each copy: they end in batches 1, 2 and 4.
    assert history.episode_env_steps == [10, 10, 20, 20, 40, 40]


def test_the_loop_looks_up_collect_when_it_runs(monkeypatch):
    """train_ppo is a #@save cell of notebook 08: it finds collect by name at call time."""
    asked = []
    original = ppo.collect

    def counted(py_env, policy, time_step, num_steps):
        asked.append(num_steps)
        return original(py_env, policy, time_step, num_steps)

    monkeypatch.setattr(ppo, "collect", counted)
    settings = SMALL.replace(num_iterations=2, num_epochs=1, eval_gate=1e9)  # no checks
    _, history = ppo.train_from_scratch(settings, seed=0, progress=False)
    assert asked == [8, 8] and history.env_steps == 2 * 2 * 8
    assert history.eval_returns == [] and len(history.losses) == 2


# --- PPO's pieces by hand (the #@save cells of notebook 08) ----------------------------------


def test_gae_on_a_hand_worked_episode():
    rewards, values = np.ones(3), np.array([0.5, 1.0, 1.5, 2.0])
    fell = [False, False, True]  # V(s_3) must not count
    # delta = [1 + 0.9 * 1 - 0.5, 1 + 0.9 * 1.5 - 1, 1 - 1.5]
    np.testing.assert_allclose(
        ppo.gae_advantages(rewards, values, fell, 0.9, 0.0), [1.4, 1.35, -0.5]
    )
    # lambda = 1: the discounted return minus V, G = [2.71, 1.9, 1].
    np.testing.assert_allclose(
        ppo.gae_advantages(rewards, values, fell, 0.9, 1.0), [2.21, 0.9, -0.5]
    )
    # Cut off instead of ended: V(s_3) = 2 bootstraps, delta_2 = 1 + 0.9 * 2 - 1.5 = 1.3.
    cut = ppo.gae_advantages(rewards, values, [False] * 3, 0.9, 1.0)
    np.testing.assert_allclose(cut, [1.4 + 0.9 * 2.52, 1.35 + 0.9 * 1.3, 1.3])


def test_gae_restarts_at_an_episode_end():
    rewards, ends = np.ones(4), [False, True, False, False]
    values = np.array([1.0, 2.0, 10.0, 0.0, 4.0])  # V(s_2) = 10 starts the next episode
    # delta = [1 + 0.5 * 2 - 1, 1 - 2, 1 + 0.5 * 0 - 10, 1 + 0.5 * 4 - 0]; gamma * lam = 0.25
    expected = [1.0 + 0.25 * -1.0, -1.0, -9.0 + 0.25 * 3.0, 3.0]
    np.testing.assert_allclose(ppo.gae_advantages(rewards, values, ends, 0.5, 0.5), expected)
    # Rows of a batch are independent copies.
    batch = ppo.gae_advantages(
        np.stack([rewards, rewards]), np.stack([values, values + 1]), [ends, ends], 0.5, 0.5
    )
    np.testing.assert_allclose(batch[0], expected)
    np.testing.assert_allclose(batch[1], ppo.gae_advantages(rewards, values + 1, ends, 0.5, 0.5))


def test_gae_agrees_with_tf_agents_value_ops():
    import tensorflow as tf
    from tf_agents.utils import value_ops

    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(3, 7)), rng.normal(size=(3, 8))
    ends = rng.random((3, 7)) < 0.2
    gamma, lam = 0.98, 0.8
    expected = value_ops.generalized_advantage_estimation(
        values=tf.constant(values[:, :-1]),
        final_value=tf.constant(values[:, -1]),
        discounts=tf.constant(gamma * (1.0 - ends)),
        rewards=tf.constant(rewards),
        td_lambda=lam,
        time_major=False,
    )
    got = ppo.gae_advantages(rewards, values, ends, gamma, lam)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-10)


def test_gae_matches_the_agent_given_its_batch_end_bootstrap():
    # PPOAgent.compute_advantages bootstraps the last step with the second-to-last value
    # (tensorflow/agents#953); notebook 08 shows this. If TF-Agents fixes it, update the notebook.
    import tensorflow as tf

    agent = ppo.build_agent(SMALL, ppo.make_train_env(SMALL, seed=0))
    rng = np.random.default_rng(1)
    rewards, values = rng.normal(size=(2, 5)), rng.normal(size=(2, 6))
    ends = np.array([[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]], bool)
    discounts = SMALL.gamma * (1.0 - ends)
    got = agent.compute_advantages(
        tf.constant(rewards, tf.float32),
        None,
        tf.constant(discounts, tf.float32),
        tf.constant(values, tf.float32),
    ).numpy()
    as_agent = np.concatenate([values[:, :-1], values[:, -2:-1]], axis=1)
    expected = ppo.gae_advantages(rewards, as_agent, ends, SMALL.gamma, SMALL.gae_lambda)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The notebook's helper does exactly this.
    helper = ppo.gae_as_tf_agents(rewards, values, ends, SMALL.gamma, SMALL.gae_lambda)
    np.testing.assert_allclose(helper, expected, atol=1e-12)


def test_gae_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one more step"):
        ppo.gae_advantages(np.ones(3), np.ones(3), [False] * 3, 0.9, 0.9)
    with pytest.raises(ValueError, match="episode_ends"):
        ppo.gae_advantages(np.ones(3), np.ones(4), [False] * 2, 0.9, 0.9)
    with pytest.raises(ValueError, match="lam"):
        ppo.gae_advantages(np.ones(3), np.ones(4), [False] * 3, 0.9, 1.5)
    with pytest.raises(ValueError, match="at least one step"):
        ppo.gae_advantages(np.ones(0), np.ones(1), [], 0.9, 0.9)


def test_clipped_surrogate_on_hand_worked_steps():
    ratios = np.array([0.5, 1.0, 1.5, 0.5, 1.0, 1.5])
    advantages = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    # min(r A, clip(r, 0.8, 1.2) A) per step:
    terms = np.array([0.5, 1.0, 1.2, -0.8, -1.0, -1.5])
    new, old = np.log(ratios), np.zeros(6)
    assert ppo.clipped_surrogate(new, old, advantages, 0.2) == pytest.approx(terms.mean())
    for i in range(6):
        assert ppo.clipped_surrogate(new[i : i + 1], old[:1], advantages[i : i + 1], 0.2) == (
            pytest.approx(terms[i])
        )
    # Weights multiply the terms; the mean still runs over every step.
    weights = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    got = ppo.clipped_surrogate(new, old, advantages, 0.2, weights=weights)
    assert got == pytest.approx((terms * weights).sum() / 6)


def test_clipped_surrogate_rejects_bad_input():
    with pytest.raises(ValueError, match="shapes"):
        ppo.clipped_surrogate(np.zeros(3), np.zeros(2), np.zeros(3), 0.2)
    with pytest.raises(ValueError, match="clip_ratio"):
        ppo.clipped_surrogate(np.zeros(3), np.zeros(3), np.zeros(3), 1.5)


def test_clipped_surrogate_is_minus_the_agents_policy_gradient_loss():
    import tensorflow as tf
    import tensorflow_probability as tfp
    from tf_agents.trajectories import time_step as ts

    agent = ppo.build_agent(SMALL, ppo.make_train_env(SMALL, seed=0))
    rng = np.random.default_rng(2)
    shape = (2, 6)
    old_logits, new_logits = rng.normal(size=(*shape, 2)), rng.normal(size=(*shape, 2))
    actions = rng.integers(0, 2, size=shape)
    advantages, weights = rng.normal(size=shape), (rng.random(shape) < 0.8).astype(float)

    def log_probs(logits):
        return tfp.distributions.Categorical(logits=logits).log_prob(actions).numpy()

    time_steps = ts.TimeStep(
        step_type=tf.ones(shape, tf.int32),
        reward=tf.zeros(shape),
        discount=tf.ones(shape),
        observation=tf.zeros((*shape, 4)),
    )
    loss = agent.policy_gradient_loss(
        time_steps,
        tf.constant(actions, tf.int64),
        tf.constant(log_probs(old_logits), tf.float32),
        tf.constant(advantages, tf.float32),
        tfp.distributions.Categorical(logits=tf.constant(new_logits, tf.float32)),
        tf.constant(weights, tf.float32),
    )
    objective = ppo.clipped_surrogate(
        log_probs(new_logits), log_probs(old_logits), advantages, SMALL.clip_ratio, weights
    )
    ratios = np.exp(log_probs(new_logits) - log_probs(old_logits))
    assert np.any(np.abs(ratios - 1) > SMALL.clip_ratio)  # the clip matters in this case
    assert float(loss) == pytest.approx(-objective, rel=1e-5, abs=1e-6)


# --- looking inside PPOClipAgent (notebook 08's last section) --------------------------------


def test_log_prob_of_actions_is_a_log_softmax():
    import tensorflow_probability as tfp

    rng = np.random.default_rng(3)
    logits, actions = rng.normal(size=(2, 5, 3)) * 4, rng.integers(0, 3, size=(2, 5))
    expected = tfp.distributions.Categorical(logits=logits).log_prob(actions).numpy()
    np.testing.assert_allclose(ppo.log_prob_of_actions(logits, actions), expected, atol=1e-10)
    # Huge logits do not overflow; two equal scores give log 0.5 each.
    assert ppo.log_prob_of_actions([[1000.0, 1000.0]], [1]) == pytest.approx([np.log(0.5)])
    with pytest.raises(ValueError, match="one row of logits"):
        ppo.log_prob_of_actions(np.zeros((2, 3, 2)), np.zeros((2, 4), int))


def test_normalized_advantages_add_a_zero_for_the_last_step_then_normalise():
    advantages = np.array([[1.0, 3.0], [5.0, 7.0]])
    got = ppo.normalized_advantages(advantages)
    padded = np.array([[1.0, 3.0, 0.0], [5.0, 7.0, 0.0]])
    np.testing.assert_allclose(got, (padded - padded.mean()) / np.sqrt(padded.var() + 1e-8))
    assert got.shape == (2, 3) and abs(got.mean()) < 1e-12 and got.std() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="copies, steps"):
        ppo.normalized_advantages(np.ones(3))


def test_loss_weights_skip_boundary_steps_and_the_batchs_last_step():
    first, mid, last = 0, 1, 2  # StepType.FIRST, MID, LAST
    step_types = np.array([[first, mid, last, first, mid], [mid, mid, mid, mid, last]])
    expected = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 0]], float)
    np.testing.assert_array_equal(ppo.loss_weights(step_types), expected)
    with pytest.raises(ValueError, match="copies, steps"):
        ppo.loss_weights([0, 1, 2])


def test_the_helpers_reproduce_the_agents_loss_on_a_real_batch():
    """What notebook 08 shows: by hand, with these helpers, L = -(the agent's PG loss)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    env = ppo.make_train_env(SMALL, seed=0)
    agent = ppo.build_agent(SMALL, env)
    policy = py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, batch_time_steps=False)
    batch, _ = ppo.collect(env, policy, None, num_steps=SMALL.collect_steps_per_env)
    batch = tf.nest.map_structure(tf.convert_to_tensor, batch)
    stored = batch.policy_info["dist_params"]["logits"].numpy()
    # Before any training the actor gives back the logits stored while collecting.
    np.testing.assert_allclose(ppo.actor_logits(agent, batch), stored, atol=1e-5)
    assert ppo.critic_values(agent, batch).shape == (2, SMALL.collect_steps_per_env)
    agent.train(batch)  # one pass: the policy moves away from the one that collected
    rewards, ended = batch.reward.numpy()[:, :-1], batch.next_step_type.numpy()[:, :-1] == 2
    values = ppo.critic_values(agent, batch)
    gae = ppo.gae_as_tf_agents(rewards, values, ended, SMALL.gamma, SMALL.gae_lambda)
    actions = batch.action.numpy()
    objective = ppo.clipped_surrogate(
        ppo.log_prob_of_actions(ppo.actor_logits(agent, batch), actions),
        ppo.log_prob_of_actions(stored, actions),
        ppo.normalized_advantages(gae),
        SMALL.clip_ratio,
        weights=ppo.loss_weights(batch.step_type),
    )
    loss = float(agent.train(batch).extra.policy_gradient_loss)
    assert loss == pytest.approx(-objective, rel=1e-4, abs=1e-6)
