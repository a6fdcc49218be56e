"""Unit tests of utils/agents/dqn.py: settings, the agent, and a tiny training run."""

from __future__ import annotations

import math

import pytest
from dqn_tiny import TINY

from utils.agents import dqn


def test_tutorial_settings_match_the_official_tutorial():
    s = dqn.TUTORIAL
    assert s.env_name == "CartPole-v1"
    assert s.hidden_layers == (100, 50)
    assert s.learning_rate == 1e-3
    assert s.batch_size == 64
    assert s.collect_steps_per_iteration == 1
    assert s.train_steps_per_iteration == 1
    assert s.initial_collect_steps == 100
    assert s.replay_capacity == 100_000
    assert s.epsilon_start == s.epsilon_end == 0.1
    assert s.loss == "squared"
    assert s.gamma == 1.0  # DqnAgent's default, which the tutorial keeps
    assert s.target_update_period == 1 and s.target_update_tau == 1.0  # a copy every step
    assert s.gradient_clipping is None
    assert s.observation_scale is None and s.init == "tutorial"
    assert not s.time_limit_truncates  # suite_gym.load: the 500-step limit ends as "done"
    assert (s.eval_interval, s.eval_episodes, s.num_iterations) == (1000, 10, 20_000)
    # One draw of one batch per iteration: exactly the tutorial's dataset pipeline.
    assert s.sample_size == s.batch_size


def test_course_settings_keep_the_loss_bounded():
    s = dqn.COURSE
    assert s.loss == "huber"
    assert s.gamma < 1.0
    assert s.target_update_tau < 1.0  # a target network that follows slowly
    assert s.gradient_clipping is not None
    assert s.eval_interval == 1  # check often, stop as soon as solved
    assert s.observation_scale is not None and len(s.observation_scale) == 4
    assert s.sample_size >= s.batch_size


def test_replace_returns_a_validated_copy():
    changed = dqn.COURSE.replace(learning_rate=1e-4)
    assert changed.learning_rate == 1e-4
    assert dqn.COURSE.learning_rate != 1e-4
    with pytest.raises(ValueError, match="learning_rate"):
        dqn.COURSE.replace(learning_rate=0.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"gamma": 1.5}, "gamma"),
        ({"loss": "l1"}, "loss"),
        ({"init": "zeros"}, "init"),
        ({"hidden_layers": ()}, "hidden_layers"),
        ({"hidden_layers": (64, 0)}, "hidden_layers"),
        ({"epsilon_end": -0.1}, "epsilon_end"),
        ({"gradient_clipping": 0.0}, "gradient_clipping"),
        ({"sample_size": 8, "batch_size": 64}, "sample_size"),
        ({"solve_episodes": 5, "eval_episodes": 10}, "solve_episodes"),
        ({"initial_collect_steps": -1}, "initial_collect_steps"),
        ({"observation_scale": (2.4, 0.0, 0.2, 3.0)}, "observation_scale"),
    ],
)
def test_bad_settings_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        dqn.TUTORIAL.replace(**changes)


# Everything below needs the TF-Agents stack.
tf_agents = pytest.importorskip("tf_agents")


@pytest.fixture(scope="module")
def env():
    return dqn.make_env(dqn.COURSE, seed=0)


@pytest.mark.parametrize("settings", [dqn.TUTORIAL, dqn.COURSE], ids=lambda s: s.name)
def test_agent_builds_with_both_settings(settings, env):
    import tensorflow as tf

    agent = dqn.build_agent(settings, env)
    assert agent.train_step_counter.dtype == tf.int64
    assert agent._gamma == settings.gamma
    q_net = agent._q_network
    dense = [layer for layer in q_net.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense] == [*settings.hidden_layers, 2]
    # The collect policy explores with the scheduled epsilon; the greedy policy acts.
    time_step = tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), env.reset())
    time_step = tf.nest.map_structure(tf.convert_to_tensor, time_step)
    assert agent.policy.action(time_step).action.shape == (1,)
    assert agent.collect_policy.action(time_step).action.shape == (1,)


def test_observations_are_rescaled_first():
    import numpy as np
    import tensorflow as tf

    q_net = dqn.build_q_network(dqn.COURSE, num_actions=2)
    assert isinstance(q_net.layers[0], tf.keras.layers.Rescaling)
    observation = tf.constant([[2.4, 3.0, 0.21, -3.0]])
    np.testing.assert_allclose(q_net.layers[0](observation), [[1.0, 1.0, 1.0, -1.0]], rtol=1e-6)
    plain = dqn.build_q_network(dqn.TUTORIAL, num_actions=2)
    assert not isinstance(plain.layers[0], tf.keras.layers.Rescaling)


@pytest.mark.parametrize(("truncates", "discount"), [(True, 1.0), (False, 0.0)])
def test_time_limit_truncates_or_terminates(truncates, discount):
    import numpy as np

    env = dqn.make_env(dqn.TUTORIAL.replace(time_limit_truncates=truncates), seed=0)
    time_step, steps = env.reset(), 0
    while not time_step.is_last():
        angle, angular_velocity = time_step.observation[2:]
        # A simple controller that keeps the pole up until the 500-step limit.
        time_step = env.step(np.array(int(angle + 0.5 * angular_velocity > 0)))
        steps += 1
    assert steps == 500
    assert float(time_step.discount) == discount


def test_epsilon_decays_linearly_with_train_steps(env):
    settings = dqn.COURSE.replace(epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=10)
    agent = dqn.build_agent(settings, env)
    epsilon = agent._epsilon_greedy
    assert math.isclose(float(epsilon()), 1.0)
    agent.train_step_counter.assign(5)
    assert math.isclose(float(epsilon()), 0.55, rel_tol=1e-5)
    agent.train_step_counter.assign(50)
    assert math.isclose(float(epsilon()), 0.1, rel_tol=1e-5)


def test_a_tiny_training_run(capsys):
    pytest.importorskip("reverb")
    from utils.rl import replay

    agent, history = dqn.train_from_scratch(TINY, seed=0, progress=False)
    assert history.iterations == 6 and not history.solved
    assert history.env_steps == 64 + 6 * 16
    assert history.train_steps == 6 * 4 == int(agent.train_step_counter.numpy())
    assert len(history.losses) == 6 and all(math.isfinite(x) for x in history.losses)
    assert history.loss_env_steps[-1] == history.env_steps
    assert history.eval_iterations == [3, 6]
    assert len(history.eval_returns) == len(history.eval_seconds) == 2
    assert history.env_steps_per_second > 0
    assert set(history.timings) == {"fill", "collect", "train", "evaluate"}
    assert all(seconds > 0 for seconds in history.timings.values())  # fill timed apart
    assert "not solved" in history.summary()
    assert replay.live_replays() == {}  # the replay was closed


def test_training_stops_when_solved(monkeypatch):
    """A run that passes both checks stops at once and records when."""
    pytest.importorskip("reverb")
    from utils.rl import evaluation

    perfect = evaluation.EvalResult(mean=500.0, returns=[500.0], episodes=1, complete=True)
    monkeypatch.setattr(evaluation, "evaluate_gym", lambda *args, **kwargs: perfect)
    _, history = dqn.train_from_scratch(TINY, seed=1, progress=False)
    assert history.solved and history.iterations == 3
    assert history.solved_return == 500.0
    assert history.env_steps_to_solve == 64 + 3 * 16
    assert history.full_evals == [(112, 500.0)] and history.eval_iterations == [3]
    assert 0 < history.seconds_to_solve <= history.seconds
    assert "solved" in history.summary()


def test_quick_check_plays_one_gym_environment_per_episode(monkeypatch):
    """Both checks step Gym environments together and stop once the target is out of reach;
    a quick_check argument replaces the quick one."""
    pytest.importorskip("reverb")
    from utils.rl import evaluation as evaluation_module

    calls = []
    real_evaluate_gym = evaluation_module.evaluate_gym

    def spy_gym(envs, actions, num_episodes, **options):
        calls.append((envs, num_episodes, options))
        return real_evaluate_gym(envs, actions, num_episodes, **options)

    monkeypatch.setattr(evaluation_module, "evaluate_gym", spy_gym)
    dqn.train_from_scratch(TINY, seed=0, progress=False)
    quick = [call for call in calls if call[1] == TINY.eval_episodes]
    assert len(quick) == 2  # iterations 3 and 6
    envs, _, options = quick[0]
    assert len(envs) == TINY.eval_episodes
    assert (options["target"], options["max_episode_return"]) == (475.0, 500.0)
    # The first check seeds the first resets; the next one plays on, fresh episodes.
    assert [call[2]["seed"] for call in quick] == [1, None]

    played = []

    def counting_check(agent, settings, num_episodes, seed=0):
        played.append((num_episodes, seed))
        return dqn.greedy_check(agent, settings, num_episodes, seed=seed)

    dqn.train_from_scratch(TINY, seed=2, progress=False, quick_check=counting_check)
    assert played == [(TINY.eval_episodes, 2001)]
