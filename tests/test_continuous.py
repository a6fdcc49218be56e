"""utils.agents.continuous: settings, the truncating Pendulum, agents, the minibatch pool, train."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.agents import continuous


def test_settings_reject_what_cannot_run():
    with pytest.raises(ValueError, match="agent must be one of"):
        continuous.COURSE.replace(agent="dqn")
    with pytest.raises(ValueError, match="sample_size must be >= batch_size"):
        continuous.COURSE.replace(sample_size=64, batch_size=256)
    with pytest.raises(ValueError, match="target_update_tau"):
        continuous.COURSE.replace(target_update_tau=0.0)


def test_pendulum_ends_by_truncation_not_termination():
    env = continuous.make_env("Pendulum-v1", seed=0)
    time_step, steps = env.reset(), 0
    while not time_step.is_last():
        time_step = env.step(np.zeros(1, np.float32))
        steps += 1
    assert steps == 200 and float(time_step.discount) == 1.0  # the clock, not a failure


@pytest.fixture(scope="module")
def train_step():
    from tf_agents.train.utils import train_utils

    return train_utils.create_train_step()


@pytest.mark.parametrize("name", continuous.AGENTS)
def test_each_agent_acts_within_the_torque_limits(name, train_step):
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts

    settings = continuous.COURSE.replace(agent=name, hidden_layers=(8,))
    env = continuous.make_env(seed=0)
    agent = continuous.build_agent(settings, env, train_step)
    observations = tf.constant(np.random.default_rng(0).normal(size=(5, 3)), tf.float32)
    step = ts.restart(observations, batch_size=5)
    for policy in (continuous.greedy_policy(agent), agent.collect_policy):
        actions = policy.action(step).action.numpy()
        assert actions.shape == (5, 1) and np.all(np.abs(actions) <= 2.0)
    critic_input = (observations, tf.zeros((5, 1)))
    values, _ = (
        agent._critic_network_1(critic_input)
        if name != "ddpg"
        else agent._critic_network(critic_input)
    )
    assert values.shape == (5,)  # one Q-value per (observation, action)


def test_a_continuous_agent_on_discrete_actions_gets_one_clear_line(train_step):
    from utils.agents import dqn

    settings = continuous.COURSE.replace(agent="ddpg", env_name="CartPole-v1")
    cartpole = dqn.make_env(dqn.COURSE, seed=0)
    with pytest.raises(ValueError, match=r"DDPG needs continuous actions.*use DQN"):
        continuous.build_agent(settings, cartpole, train_step)
    with pytest.raises(ValueError, match=r"needs discrete actions.*ddpg, td3, sac"):
        continuous.check_action_spec("dqn", continuous.make_env().action_spec())


def test_the_pool_never_hands_out_a_sample_across_two_episodes(train_step):
    from tf_agents.policies import random_py_policy
    from tf_agents.train import actor

    from utils.rl import replay

    env = continuous.make_env(seed=0)
    settings = continuous.COURSE.replace(hidden_layers=(8,))
    agent = continuous.build_agent(settings, env, train_step)
    # The uniform buffer stores the steps in one stream, so it does hold samples that join
    # an episode's last step to the next one's first.
    with replay.make_replay(agent.collect_data_spec, 1000, backend="uniform") as memory:
        policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
        actor.Actor(env, policy, train_step, steps_per_run=450, observers=[memory.observer]).run()
        pool = continuous.MinibatchPool(memory, sample_size=4096, batch_size=64)
        # 2 of the ~449 stored samples straddle: 4,096 draws all miss them with p < 1e-7
        assert float(np.min(pool._valid.numpy())) == 0.0
        for experience, _ in pool.dataset().take(20):
            assert experience.observation.shape == (64, 2, 3)
            assert not np.any(experience.is_boundary()[:, 0].numpy())
        pool.refill()
        assert pool._valid.shape == (4096,)


SHORT = continuous.COURSE.replace(
    hidden_layers=(16,),
    initial_collect_steps=300,
    collect_steps_per_iteration=100,
    train_steps_per_iteration=20,
    sample_size=256,
    batch_size=32,
    max_env_steps=500,
    eval_episodes=2,
    solve_episodes=4,
)


@pytest.mark.parametrize("backend", ["uniform", "reverb"])
def test_train_runs_phases_checks_and_records(backend, tmp_path):
    from utils.rl import replay

    if backend == "reverb" and not replay.reverb_available():
        pytest.skip("Reverb is not installed here")
    _, history = continuous.train(
        SHORT.replace(agent="td3"), seed=1, root_dir=str(tmp_path), backend=backend, progress=False
    )
    assert history.iterations == 2 and history.env_steps == 500
    assert history.train_steps == 40 and len(history.losses) == 2
    assert len(history.eval_returns) == 2 and all(r <= 0 for r in history.eval_returns)
    assert not history.solved and "not solved" in history.summary()
    assert (tmp_path / "train").is_dir()  # the learner's TensorBoard summaries
    assert not replay.live_replays()  # the replay was closed


def test_a_nan_loss_stops_training_with_the_step_and_the_last_finite_loss(monkeypatch, tmp_path):
    from tf_agents.agents import tf_agent
    from tf_agents.train import learner

    calls = []
    real_run = learner.Learner.run

    def run(self, iterations=1, **kwargs):
        loss = real_run(self, iterations=iterations, **kwargs)
        calls.append(loss)
        return loss if len(calls) == 1 else tf_agent.LossInfo(math.nan, ())

    monkeypatch.setattr(learner.Learner, "run", run)
    with pytest.raises(FloatingPointError, match=r"became nan at train step 40 .*last finite"):
        continuous.train(SHORT, seed=0, root_dir=str(tmp_path), backend="uniform", progress=False)
