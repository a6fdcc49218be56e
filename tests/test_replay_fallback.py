"""The Reverb-less lane of utils.rl.replay: TF-Agents' uniform buffer behind the same interface."""

import numpy as np
import pytest
from scripted_env import ScriptedEnv
from tf_agents.drivers import py_driver
from tf_agents.policies import random_py_policy
from tf_agents.specs import array_spec
from tf_agents.trajectories import policy_step, trajectory

from utils.rl import replay


def collect_data_spec(env):
    action = env.action_spec()
    return trajectory.Trajectory(
        step_type=env.time_step_spec().step_type,
        observation=env.observation_spec(),
        action=action,
        policy_info=(),
        next_step_type=env.time_step_spec().step_type,
        reward=env.reward_spec(),
        discount=env.time_step_spec().discount,
    )


def fill(memory, env, steps):
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    py_driver.PyDriver(env, policy, [memory.observer], max_steps=steps).run(env.reset())


def test_uniform_backend_stores_and_samples_two_step_windows():
    env = ScriptedEnv(lengths=(5,))
    with replay.make_replay(collect_data_spec(env), 100, backend="uniform") as memory:
        assert isinstance(memory, replay.UniformReplay)
        fill(memory, env, 30)
        # PyDriver counts 30 steps; the buffer also holds the 5 episode-boundary steps.
        assert memory.num_frames() == 35
        experience, _ = next(iter(memory.dataset(8, num_steps=2)))
        assert experience.observation.shape == (8, 2, 2)
        # the second step of a window follows the first (or starts the next episode)
        first, second = experience.observation[:, 0, 1], experience.observation[:, 1, 1]
        assert np.all((second == first + 1) | (second == 0))
        assert "instead of Reverb (chosen explicitly)" in memory.describe()
    assert memory.closed


def test_auto_falls_back_and_says_why(monkeypatch):
    monkeypatch.setattr(replay, "reverb_available", lambda: False)
    env = ScriptedEnv()
    memory = replay.make_replay(collect_data_spec(env), 50)
    try:
        assert isinstance(memory, replay.UniformReplay)
        assert "Reverb cannot be imported" in memory.describe()
        assert "Python" in memory.describe()
    finally:
        memory.close()


def test_reverb_backend_without_reverb_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_reverb(name, *args, **kwargs):
        if name == "reverb":
            raise ImportError("No module named 'reverb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_reverb)
    env = ScriptedEnv()
    with pytest.raises(ImportError, match=r"Python 3\.9-3\.11"):
        replay.make_replay(collect_data_spec(env), 50, backend="reverb")


def test_rerun_replaces_the_previous_buffer():
    env = ScriptedEnv()
    first = replay.make_replay(collect_data_spec(env), 50, backend="uniform")
    second = replay.make_replay(collect_data_spec(env), 50, backend="uniform")
    try:
        assert first.closed and not second.closed
        assert replay.live_replays()[replay.TABLE_NAME] is second
    finally:
        second.close()
    assert replay.TABLE_NAME not in replay.live_replays()


def test_unknown_backend():
    env = ScriptedEnv()
    with pytest.raises(ValueError, match="backend must be one of"):
        replay.make_replay(collect_data_spec(env), 50, backend="redis")


def test_spec_helper_matches_a_real_agent_spec():
    # Sanity: the hand-made spec above has the fields a DqnAgent's collect_data_spec has.
    spec = collect_data_spec(ScriptedEnv())
    assert isinstance(spec.action, array_spec.BoundedArraySpec)
    assert policy_step.PolicyStep is not None
