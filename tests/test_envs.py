"""Tests for utils.envs: loading by name with clear errors, rendering."""

import importlib.util

import numpy as np
import pytest

from utils import envs


def test_load_env_gives_a_tf_agents_environment():
    env = envs.load_env("CartPole-v1")
    assert env.action_spec().maximum == 1
    assert env.observation_spec().shape == (4,)


def test_wrong_name_suggests_close_matches():
    with pytest.raises(ValueError, match="Did you mean 'CartPole-v1'"):
        envs.load_env("CartPol-v1")


def test_unknown_name_without_match_still_explains():
    with pytest.raises(ValueError, match="registered_env_ids"):
        envs.load_env("TotallyMadeUp-v7")


@pytest.mark.parametrize("bad", ["", None, 3])
def test_non_string_names_are_rejected(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        envs.load_env(bad)


def test_registered_ids_include_cartpole():
    ids = envs.registered_env_ids()
    assert "CartPole-v0" in ids and "CartPole-v1" in ids


def test_render_frame_headless_for_py_and_tf_envs():
    from tf_agents.environments import tf_py_environment

    env = envs.load_env("CartPole-v1")
    env.reset()
    frame = envs.render_frame(env)
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8 and frame.std() > 0
    tf_env = tf_py_environment.TFPyEnvironment(envs.load_env("CartPole-v1"))
    tf_env.reset()
    assert envs.render_frame(tf_env).shape == (400, 600, 3)


def test_render_frame_none_is_a_clear_error():
    class Blank:
        def render(self):
            return None

    with pytest.raises(RuntimeError, match="no frame"):
        envs.render_frame(Blank())


def test_show_frame_returns_a_png_display_object():
    img = envs.show_frame(np.zeros((4, 6, 3), dtype=np.uint8))
    assert img.format == "png" and img.data[:4] == b"\x89PNG"


def _run_lean_episode(env):
    from utils.exercises import lean_policy

    time_step, steps = env.reset(), 0
    while not time_step.is_last():
        time_step = env.step(np.array(lean_policy(time_step.observation), dtype=np.int64))
        steps += 1
    return time_step, steps


def test_time_limit_is_a_truncation_with_discount_one():
    time_step, steps = _run_lean_episode(envs.load_env("CartPole-v1"))
    assert steps == 500 and float(time_step.discount) == 1.0


def test_plain_suite_gym_reports_the_time_limit_as_termination():
    # The reason load_env exists: with gym 0.23, suite_gym.load keeps gym's TimeLimit.
    from tf_agents.environments import suite_gym

    time_step, steps = _run_lean_episode(suite_gym.load("CartPole-v1"))
    assert steps == 500 and float(time_step.discount) == 0.0


def test_falling_pole_is_a_termination_with_discount_zero():
    env = envs.load_env("CartPole-v1")
    time_step = env.reset()
    while not time_step.is_last():
        time_step = env.step(np.array(1, dtype=np.int64))
    assert float(time_step.discount) == 0.0


def test_custom_step_limit():
    time_step, steps = _run_lean_episode(envs.load_env("CartPole-v0", max_episode_steps=30))
    assert steps == 30 and float(time_step.discount) == 1.0


def test_batched_env_steps_copies_as_one_batch():
    eval_env = envs.batched_env("CartPole-v1", copies=3, seed=0)
    assert eval_env.batched and eval_env.batch_size == 3
    assert eval_env.reset().observation.shape == (3, 4)
    with pytest.raises(ValueError, match="copies must be a whole number"):
        envs.batched_env("CartPole-v1", copies=0)


def test_record_episode_plays_a_tf_agents_environment():
    from scripted_env import ScriptedEnv
    from tf_agents.policies import random_py_policy

    env = ScriptedEnv(lengths=(4,))
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec())
    got, total = envs.record_episode(env, policy)
    assert len(got) == 5 and total == 4.0


def test_record_episode_plays_a_gym_environment_with_a_function():
    env = envs.make_gym_env("CartPole-v1")
    frames, total = envs.record_episode(env, lambda observation: 1, seed=3)
    assert len(frames) == total + 1 and 5 <= total < 50  # always right: the pole falls soon
    assert frames[0].shape == (400, 600, 3) and frames[0].dtype == np.uint8
    again, _ = envs.record_episode(env, lambda observation: 1, seed=3)
    assert all((a == b).all() for a, b in zip(frames, again, strict=True))  # seeded


def test_make_env_gives_a_seeded_gymnasium_environment():
    import gymnasium

    env = envs.make_env("CartPole-v1", seed=3)
    assert isinstance(env, gymnasium.Env)
    observation, info = env.reset(seed=3)
    assert observation.shape == (4,) and isinstance(info, dict)
    _, reward, terminated, truncated, _ = env.step(1)
    assert reward == 1.0 and not terminated and not truncated
    again, _ = envs.make_env("CartPole-v1").reset(seed=3)
    np.testing.assert_array_equal(observation, again)


def test_gymnasium_and_gym_play_the_same_cartpole():
    gym_env, env = envs.make_gym_env("CartPole-v1"), envs.make_env("CartPole-v1")
    old, (new, _) = gym_env.reset(seed=5), env.reset(seed=5)
    for action in [1, 1, 0, 1, 0, 0, 1]:
        np.testing.assert_array_equal(old, new)
        old, (new, *_) = gym_env.step(action)[0], env.step(action)


def test_step_env_splits_old_gyms_done():
    class Clock:  # gym 0.23's TimeLimit on the step where the clock runs out
        def step(self, action):
            return np.zeros(4), 1.0, True, {"TimeLimit.truncated": True}

    assert envs.step_env(Clock(), 0)[2:] == (False, True)
    env = envs.make_gym_env("CartPole-v1", seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated = envs.step_env(env, 1)  # the pole falls
    assert terminated and not truncated


def test_make_env_checks_the_spaces_a_trainer_needs():
    with pytest.raises(ValueError, match="discrete action space"):
        envs.make_env("Pendulum-v1")
    assert envs.make_env("Pendulum-v1", discrete=False).action_space.shape == (1,)


def test_make_env_wrong_name_suggests_close_gymnasium_ids():
    with pytest.raises(ValueError, match=r"Did you mean 'CartPole-v1'.*gymnasium_env_ids"):
        envs.make_env("CartPol-v1")
    with pytest.raises(ValueError, match="non-empty string"):
        envs.make_env("")


def _one_line(raised) -> str:
    message = str(raised.value)
    assert "\n" not in message and raised.value.__cause__ is None
    return message


def test_a_gym_only_id_given_to_gymnasium_names_the_gymnasium_id():
    with pytest.raises(ValueError) as raised:
        envs.make_env("LunarLander-v2")
    message = _one_line(raised)
    assert (
        "'LunarLander-v2' is a gym 0.23" in message and "envs.make_env('LunarLander-v3')" in message
    )
    assert "envs.load_env('LunarLander-v2')" in message
    # A program gives its own advice in place of the Python call.
    with pytest.raises(ValueError) as raised:
        envs.check_env_name("LunarLander-v2", library="gymnasium", instead="use --env {id}")
    message = _one_line(raised)
    assert message.endswith("has 'LunarLander-v3': use --env LunarLander-v3.")
    assert "envs." not in message


def test_a_gymnasium_only_id_given_to_load_env_names_the_gym_id():
    with pytest.raises(ValueError) as raised:
        envs.load_env("LunarLander-v3")
    message = _one_line(raised)
    assert "Gymnasium" in message and "envs.load_env('LunarLander-v2')" in message
    with pytest.raises(ValueError, match="Ant-v3"):
        envs.load_env("Ant-v5")  # gym 0.23 stops at Ant-v3
    with pytest.raises(ValueError, match=r"no version of it: envs\.make_env\('CliffWalkingS"):
        envs.load_env("CliffWalkingSlippery-v1")  # Gymnasium's alone


def test_ids_in_both_libraries_load_in_both():
    assert envs.make_env("CartPole-v0").spec.max_episode_steps == 200
    assert envs.load_env("CartPole-v0") is not None


BOX2D = importlib.util.find_spec("Box2D") is not None


@pytest.mark.skipif(BOX2D, reason="Box2D is installed here")
def test_a_missing_extra_package_names_what_to_install():
    with pytest.raises(ImportError) as raised:
        envs.make_env("LunarLander-v3")
    assert 'pip install swig "gymnasium[box2d]"' in _one_line(raised)
    with pytest.raises(ImportError) as raised:
        envs.load_env("LunarLander-v2")  # gym itself ends in an AttributeError
    assert "box2d-py" in _one_line(raised)
    with pytest.raises(ImportError, match="box2d-py"):
        envs.make_gym_env("LunarLander-v2", discrete=False)


def test_render_frame_of_a_gymnasium_env_needs_rgb_array_mode():
    env = envs.make_env("CartPole-v1", seed=0)
    with pytest.raises(RuntimeError, match="render_mode='rgb_array'"):
        envs.render_frame(env)
    env = envs.make_env("CartPole-v1", seed=0, render_mode="rgb_array")
    frame = envs.render_frame(env)
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8 and frame.std() > 0


def test_record_episode_plays_a_gymnasium_environment_with_a_function():
    env = envs.make_env("CartPole-v1", render_mode="rgb_array")
    frames, total = envs.record_episode(env, lambda observation: 1, seed=3)
    assert len(frames) == total + 1 and 5 <= total < 50  # always right: the pole falls soon
    again, _ = envs.record_episode(env, lambda observation: 1, seed=3)
    assert all((a == b).all() for a, b in zip(frames, again, strict=True))  # seeded


def test_start_observations_are_gymnasium_first_observations():
    starts = envs.start_observations("CartPole-v1", count=3, first_seed=7)
    first, _ = envs.make_env("CartPole-v1").reset(seed=8)
    assert starts.shape == (3, 4) and starts.dtype == np.float32
    np.testing.assert_array_equal(starts[1], first)


def test_an_unknown_library_is_one_line_naming_the_two():
    for call in (
        lambda: envs.check_env_name("CartPole-v1", library="gymnasum"),
        lambda: envs.start_observations("CartPole-v1", library="gymnasum"),
    ):
        with pytest.raises(ValueError) as raised:
            call()
        assert _one_line(raised) == "library must be 'gym' or 'gymnasium', got 'gymnasum'."
