"""Unit tests of utils/rl/replay.py: the Reverb replay builder."""

from __future__ import annotations

import sys
import tempfile

import pytest

pytest.importorskip("tf_agents")
reverb = pytest.importorskip("reverb")

from utils.rl import replay as replay_lib  # noqa: E402


@pytest.fixture(scope="module")
def cartpole():
    """A CartPole environment and the collect data spec of a policy acting in it."""
    from tf_agents.environments import suite_gym
    from tf_agents.policies import random_py_policy

    env = suite_gym.load("CartPole-v1")
    env.seed(0)
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0)
    return env, policy


@pytest.fixture
def spec(cartpole):
    """The ``collect_data_spec`` a DqnAgent would have for CartPole."""
    from tf_agents.specs import tensor_spec

    _, policy = cartpole
    return tensor_spec.from_spec(policy.trajectory_spec)


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Send every temporary folder of the test to its own directory, and close leftovers."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield tmp_path
    replay_lib.close_all()


def collect(cartpole, replay, steps: int) -> None:
    """Run the random policy for ``steps`` steps, writing into ``replay``."""
    from tf_agents.drivers import py_driver

    env, policy = cartpole
    py_driver.PyDriver(env, policy, [replay.observer], max_steps=steps).run(env.reset())
    replay.observer.flush()


def test_insert_and_sample_shapes(cartpole, spec):
    with replay_lib.make_replay(spec, capacity=1000) as replay:
        assert isinstance(replay, replay_lib.ReverbReplay)
        collect(cartpole, replay, 100)
        # One item per window of 2 steps; a few are lost at episode ends.
        assert 80 <= replay.num_frames() <= 100
        experience, _ = next(iter(replay.dataset(batch_size=16)))
        assert experience.observation.shape == (16, 2, 4)
        assert experience.action.shape == (16, 2)
        assert experience.reward.shape == (16, 2)


def test_capacity_evicts_oldest(cartpole, spec):
    with replay_lib.make_replay(spec, capacity=30) as replay:
        collect(cartpole, replay, 100)
        assert replay.num_frames() == 30
        assert replay.table.info.max_size == 30


def test_close_stops_server_and_cleans_up(spec, private_tempdir):
    replay = replay_lib.make_replay(spec, capacity=10)
    port = replay.port
    assert replay_lib.live_replays() == {replay.table_name: replay}
    assert any(private_tempdir.iterdir())  # the server's checkpoint folder
    replay.close()
    replay.close()  # a second close is harmless
    assert replay.closed
    assert replay_lib.live_replays() == {}
    assert not any(private_tempdir.iterdir())
    with pytest.raises(Exception):  # noqa: B017 (nothing listens on the port any more)
        reverb.Client(f"localhost:{port}").server_info(timeout=2)


def test_rebuilding_replaces_previous_server(cartpole, spec, private_tempdir):
    first = replay_lib.make_replay(spec, capacity=10)
    second = replay_lib.make_replay(spec, capacity=10)  # e.g. a notebook cell run twice
    assert first.closed and not second.closed
    assert replay_lib.live_replays() == {second.table_name: second}
    assert len(list(private_tempdir.iterdir())) == 1
    collect(cartpole, second, 20)
    assert second.num_frames() > 0
    third = replay_lib.make_replay(spec, capacity=10, table_name="other")
    assert set(replay_lib.live_replays()) == {second.table_name, "other"}
    replay_lib.close_all()
    assert third.closed and replay_lib.live_replays() == {}
    assert not any(private_tempdir.iterdir())


def test_many_rebuilds_do_not_leak(spec):
    replays = [replay_lib.make_replay(spec, capacity=10) for _ in range(5)]
    assert [r.closed for r in replays] == [True] * 4 + [False]
    assert replay_lib.live_replays() == {replays[-1].table_name: replays[-1]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "tpu"}, "backend"),
        ({"capacity": 0}, "capacity"),
        ({"sequence_length": 0}, "sequence_length"),
        ({"min_size": 1.5}, "min_size"),
    ],
)
def test_bad_arguments(spec, kwargs, message):
    arguments = {"capacity": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        replay_lib.make_replay(spec, **arguments)


def test_missing_reverb_gives_clear_error(spec, monkeypatch):
    monkeypatch.setitem(sys.modules, "reverb", None)  # `import reverb` now fails
    assert not replay_lib.reverb_available()
    with pytest.raises(ImportError, match="dm-reverb") as caught:
        replay_lib.make_replay(spec, capacity=10, backend="reverb")
    assert "Python 3.11" in str(caught.value)
