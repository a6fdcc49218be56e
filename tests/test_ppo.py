"""Unit tests of utils/agents/ppo.py: settings, the agent, collection, episode bookkeeping."""

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


def test_a_short_training_run_keeps_its_bookkeeping():
    settings = SMALL.replace(num_iterations=3, eval_gate=0.0, eval_interval=1, num_epochs=2)
    agent, history = ppo.train_from_scratch(settings, seed=0, progress=False)
    assert history.iterations == 3 and history.env_steps == 3 * 2 * 8
    assert len(history.eval_returns) == 3 and len(history.losses) == 3
    assert not history.solved and "not solved" in history.summary()
    assert int(agent.train_step_counter.numpy()) == 3 * 2  # one per epoch
