"""utils.agents.continuous: settings, the truncating Pendulum, agents, the minibatch pool, train."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from continuous_short import SHORT

from utils.agents import continuous


def test_settings_reject_what_cannot_run():
    with pytest.raises(ValueError, match="agent must be one of"):
        continuous.COURSE.replace(agent="dqn")
    with pytest.raises(ValueError, match="sample_size must be >= batch_size"):
        continuous.COURSE.replace(sample_size=64, batch_size=256)
    with pytest.raises(ValueError, match="target_update_tau"):
        continuous.COURSE.replace(target_update_tau=0.0)
    with pytest.raises(ValueError, match="td_loss must be one of"):
        continuous.COURSE.replace(td_loss="l1")
    with pytest.raises(ValueError, match="actor_learning_rate must be > 0 or None"):
        continuous.COURSE.replace(actor_learning_rate=0.0)


def test_the_example_settings_are_tf_agents_examples_on_one_step_phases():
    for name, example in continuous.EXAMPLES.items():
        assert example.agent == name and example.name == "example"
        assert example.collect_steps_per_iteration == example.train_steps_per_iteration == 1
        assert not example.minibatch_pool and example.eval_interval == 1000
    assert continuous.EXAMPLES["sac"].actor_layers == (256, 256)
    assert continuous.EXAMPLES["sac"].initial_collect_steps == 10_000
    td3 = continuous.EXAMPLES["td3"]
    assert (td3.actor_layers, td3.critic_observation_layers, td3.critic_layers) == (
        (400, 300),
        (400,),
        (300,),
    )
    assert (td3.batch_size, td3.actor_learning_rate, td3.gamma) == (64, 1e-4, 0.995)
    assert continuous.EXAMPLES["ddpg"].exploration_noise == 0.2  # its OU stddev


def test_the_critic_target_by_hand():
    rewards, discounts = np.array([-1.0, -2.0, -0.5]), np.array([1.0, 0.0, 1.0])
    target = continuous.critic_target(rewards, discounts, np.array([-10.0, -10.0, -4.0]), 0.9)
    np.testing.assert_allclose(target, [-10.0, -2.0, -4.1])  # the terminated one: its reward
    q1, q2 = np.array([-3.0, -5.0]), np.array([-4.0, -1.0])
    np.testing.assert_allclose(continuous.twin_min_value(q1, q2), [-4.0, -5.0])
    # SAC: minus alpha * log pi; an unlikely action (log pi = -2) earns a bonus of 2 alpha.
    log_probs = np.array([-2.0, 0.5])
    np.testing.assert_allclose(
        continuous.twin_min_value(q1, q2, log_probs, alpha=0.5), [-3.0, -5.25]
    )


def test_target_smoothing_noise_is_clipped():
    rng = np.random.default_rng(0)
    smoothed = continuous.smoothed_target_actions(np.full(20_000, 1.5), 0.2, 0.5, rng)
    noise = smoothed - 1.5
    assert np.abs(noise).max() <= 0.5 and np.abs(noise).max() > 0.45
    assert 0.18 < noise.std() < 0.2  # clipping trims the tails of N(0, 0.2^2)


def test_ou_noise_has_the_stationary_spread_and_correlation_of_its_update():
    import tensorflow as tf
    from tf_agents.utils import common

    damping, stddev, n = 0.15, 0.1, 40_000
    ours = continuous.ou_noise(n, damping, stddev, np.random.default_rng(1))
    tf_ou = common.OUProcess(tf.zeros(()), damping=damping, stddev=stddev, seed=1)
    theirs = np.array([tf_ou().numpy() for _ in range(n)])
    spread = stddev / math.sqrt(1 - (1 - damping) ** 2)
    for noise in (ours, theirs):
        assert abs(noise.std() / spread - 1) < 0.05
        assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1] - (1 - damping)) < 0.02
        assert abs(noise.mean()) < 0.02
    gaussian = np.random.default_rng(1).normal(0, stddev, n)
    assert abs(np.corrcoef(gaussian[:-1], gaussian[1:])[0, 1]) < 0.02


def test_the_critic_loss_by_hand_matches_ddpg_agent(train_step):
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts

    env = continuous.make_env(seed=0)
    settings = continuous.COURSE.replace(agent="ddpg", actor_layers=(8,), critic_layers=(8,))
    agent = continuous.build_agent(settings, env, train_step)
    rng = np.random.default_rng(0)
    s, next_s = (tf.constant(rng.normal(size=(6, 3)), tf.float32) for _ in range(2))
    a = tf.constant(rng.uniform(-2, 2, size=(6, 1)), tf.float32)
    r = tf.constant(rng.uniform(-16, 0, size=6), tf.float32)
    d = tf.constant([1, 1, 0, 1, 1, 1], tf.float32)
    time_steps = ts.transition(s, reward=tf.zeros(6), discount=tf.ones(6))
    next_time_steps = ts.transition(next_s, reward=r, discount=d)
    next_q, _ = agent._target_critic_network((next_s, agent._target_actor_network(next_s)[0]))
    y = continuous.critic_target(r, d, next_q, settings.gamma)
    q, _ = agent._critic_network((s, a))
    by_hand = float(tf.reduce_mean(tf.square(y - q)))
    assert by_hand == pytest.approx(float(agent.critic_loss(time_steps, a, next_time_steps)))


def test_huber_td_loss_is_elementwise():
    import tensorflow as tf

    huber = continuous.td_loss_function("huber")
    losses = huber(tf.constant([0.0, 0.0, 0.0]), tf.constant([0.5, 2.0, -3.0])).numpy()
    np.testing.assert_allclose(losses, [0.125, 1.5, 2.5])
    with pytest.raises(ValueError, match="td_loss must be one of"):
        continuous.td_loss_function("l1")


def test_train_step_rate_records_steps_per_second():
    rate = continuous.TrainStepRate()
    rate(0)
    time.sleep(0.05)
    rate(200)
    rate(200)  # no new train steps: nothing recorded
    assert len(rate.rates) == 1 and rate.rates[0][0] == 200 and 0 < rate.rates[0][1] < 4000


def test_pendulum_ends_by_truncation_not_termination():
    env = continuous.make_env("Pendulum-v1", seed=0)
    time_step, steps = env.reset(), 0
    while not time_step.is_last():
        time_step = env.step(np.zeros(1, np.float32))
        steps += 1
    assert steps == 200 and float(time_step.discount) == 1.0  # the clock, not a failure
    # The torque Pendulum keeps for drawing is a plain float (pygame 2.6 rejects NumPy numbers).
    assert type(env.gym.unwrapped.last_u) is float


@pytest.fixture(scope="module")
def train_step():
    from tf_agents.train.utils import train_utils

    return train_utils.create_train_step()


@pytest.mark.parametrize("name", continuous.AGENTS)
def test_each_agent_acts_within_the_torque_limits(name, train_step):
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts

    settings = continuous.COURSE.replace(agent=name, actor_layers=(8,), critic_layers=(8,))
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
    with pytest.raises(ValueError, match=r"needs discrete actions.*DDPG, TD3 or SAC"):
        continuous.check_action_spec("dqn", continuous.make_env().action_spec())
    pendulum = dqn.COURSE.replace(env_name="Pendulum-v1")
    with pytest.raises(ValueError, match=r"DQN needs discrete actions.*float32.*DDPG, TD3 or SAC"):
        dqn.make_env(pendulum)


def test_the_pool_never_hands_out_a_sample_across_two_episodes(train_step):
    from tf_agents.policies import random_py_policy
    from tf_agents.train import actor

    from utils.rl import replay

    env = continuous.make_env(seed=0)
    settings = continuous.COURSE.replace(actor_layers=(8,), critic_layers=(8,))
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


def test_train_without_the_pool_and_with_policy_saving(tmp_path):
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.train import learner

    settings = SHORT.replace(
        agent="sac", minibatch_pool=False, collect_steps_per_iteration=50, eval_interval=2
    )
    agent, history = continuous.train(
        settings,
        seed=0,
        root_dir=str(tmp_path),
        backend="uniform",
        progress=False,
        policy_save_interval=20,
    )
    assert history.iterations == 4 and history.train_steps == 80
    assert len(history.eval_returns) == 2  # every second phase
    policies = tmp_path / learner.POLICY_SAVED_MODEL_DIR
    checkpoints = sorted((policies / learner.POLICY_CHECKPOINT_DIR).iterdir())
    assert checkpoints[-1].name.endswith(f"{80:010d}")  # the last one: at the end
    loaded = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        str(policies / learner.GREEDY_POLICY_SAVED_MODEL_DIR), load_specs_from_pbtxt=True
    )
    loaded.update_from_checkpoint(str(checkpoints[-1]))
    env = continuous.make_env(seed=3)
    step = env.reset()
    live = py_tf_eager_policy.PyTFEagerPolicy(continuous.greedy_policy(agent))
    np.testing.assert_allclose(loaded.action(step).action, live.action(step).action, atol=1e-5)


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


def test_the_critic_exercise_names_the_layers_it_wanted():
    from tf_agents.agents.ddpg import critic_network

    from utils import exercises

    def joint_only(settings, observation_spec, action_spec):
        return critic_network.CriticNetwork(
            (observation_spec, action_spec), joint_fc_layer_params=(64,)
        )

    with pytest.raises(AssertionError, match=r"3 observation numbers to 64 units.*65 inputs"):
        exercises.check("10.observation_first_critic", joint_only)
