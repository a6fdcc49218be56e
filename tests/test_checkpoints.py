"""Checkpoints (notebook 11): atomic writes, resuming every trainer, faults, saved policies.

The kill-and-resume test is real: a child process trains with checkpoints, receives SIGKILL
once a checkpoint exists, and the run is resumed from the folder; it must end exactly where
an uninterrupted run on the same seed ends (the from-scratch DQN is deterministic).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from continuous_short import SHORT

from utils.agents import dqn, dqn_scratch
from utils.rl import checkpoints, replay
from utils.rl.checkpoints import CheckpointError, Checkpoints

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "scripts" / "train_dqn.py"
PLAY = ROOT / "scripts" / "play_saved_policy.py"

# A budget run of the from-scratch DQN: never "solved", so it always plays max_env_steps.
BUDGET = dqn_scratch.COURSE.replace(
    hidden_layers=(32, 32),
    target_return=None,
    max_episode_return=None,
    initial_collect_steps=200,
    collect_steps_per_iteration=64,
    train_steps_per_iteration=32,
    max_env_steps=200 + 64 * 12,
    eval_interval=3,
    eval_episodes=3,
    solve_episodes=3,
)


def weights(model) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def same_weights(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# --- the folder: atomic writes, what counts as a checkpoint -----------------------------------


def test_write_atomically_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "thing"
    checkpoints.write_atomically(target, lambda d: (d / "a.txt").write_text("first"))
    assert (target / "a.txt").read_text() == "first"

    def crash(folder):
        (folder / "a.txt").write_text("second, half")
        raise KeyboardInterrupt  # stopped while writing

    with pytest.raises(KeyboardInterrupt):
        checkpoints.write_atomically(target, crash)
    assert (target / "a.txt").read_text() == "first"  # the old one, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")]
    checkpoints.write_atomically(target, lambda d: (d / "a.txt").write_text("third"))
    assert (target / "a.txt").read_text() == "third"


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="every"):
        Checkpoints(tmp_path, every=0)
    with pytest.raises(ValueError, match="keep"):
        Checkpoints(tmp_path, keep=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        Checkpoints(tmp_path / "file")


# --- the from-scratch DQN: exact resume ------------------------------------------------------


def test_scratch_dqn_resumes_exactly(tmp_path):
    whole_agent, whole = dqn_scratch.train(BUDGET, seed=3, progress=False)
    lines = []
    folder = Checkpoints(tmp_path, every=64, log=lines.append)
    _first_agent, first = dqn_scratch.train(
        BUDGET.replace(max_env_steps=200 + 64 * 5), seed=3, progress=False, checkpoints=folder
    )
    assert first.train_steps == 5 * 32 and [p.name for p in folder.entries()] == [
        "ckpt-000000128",
        "ckpt-000000160",
    ]
    later = Checkpoints(tmp_path, every=64, log=lines.append)
    agent, history = dqn_scratch.train(BUDGET, seed=3, progress=False, checkpoints=later)
    assert "resumed from" in lines[-1] and "max_env_steps" in lines[-1]
    assert history.resumes == [first.env_steps]
    assert history.env_steps == whole.env_steps and history.train_steps == whole.train_steps
    assert history.losses == whole.losses and history.eval_returns == whole.eval_returns
    assert history.episode_returns == whole.episode_returns
    assert same_weights(agent.q_network.get_weights(), whole_agent.q_network.get_weights())
    assert same_weights(
        agent.target_network.get_weights(), whole_agent.target_network.get_weights()
    )


def test_a_solved_run_resumes_to_nothing_to_do(tmp_path):
    settings = BUDGET.replace(target_return=9.0, max_episode_return=500.0)  # solved at once
    agent, history = dqn_scratch.train(
        settings, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, log=None)
    )
    assert history.solved
    saved = weights(agent.q_network)
    lines = []
    again, resumed = dqn_scratch.train(
        settings, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, log=lines.append)
    )
    assert "had ended" in lines[-1]
    assert resumed.solved and resumed.env_steps == history.env_steps
    assert resumed.train_steps == history.train_steps
    assert same_weights(weights(again.q_network), saved)
    assert len(Checkpoints(tmp_path).entries()) == 1  # nothing new written


def test_another_run_is_refused_and_nothing_is_overwritten(tmp_path):
    dqn_scratch.train(BUDGET, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, log=None))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(CheckpointError, match=r"hidden_layers \[32, 32\] there, \[16\] here"):
        dqn_scratch.train(
            BUDGET.replace(hidden_layers=(16,)),
            seed=0,
            progress=False,
            checkpoints=Checkpoints(tmp_path, log=None),
        )
    with pytest.raises(CheckpointError, match="env_name 'CartPole-v1' there"):
        dqn_scratch.train(
            dqn_scratch.settings_for("Acrobot-v1", hidden_layers=(32, 32)),
            seed=0,
            progress=False,
            checkpoints=Checkpoints(tmp_path, log=None),
        )
    with pytest.raises(CheckpointError, match="already holds checkpoints"):
        dqn_scratch.train(
            BUDGET,
            seed=0,
            progress=False,
            checkpoints=Checkpoints(tmp_path, resume=False, log=None),
        )
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_unusable_checkpoints_are_skipped_or_refused(tmp_path):
    folder = Checkpoints(tmp_path, every=32, keep=3, log=None)
    dqn_scratch.train(
        BUDGET.replace(max_env_steps=200 + 64 * 3), seed=0, progress=False, checkpoints=folder
    )
    old, middle, newest = folder.entries()
    # A killed write (left as .partial-...), an older course version and a damaged folder:
    (tmp_path / ".partial-0123abcd").mkdir()
    meta = json.loads((newest / "meta.json").read_text())
    (newest / "meta.json").write_text(json.dumps({**meta, "format": 0}))
    shutil.rmtree(middle / "tf")
    old_steps = json.loads((old / "meta.json").read_text())["progress"]["env_steps"]
    lines = []
    _agent, history = dqn_scratch.train(
        BUDGET, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, log=lines.append)
    )
    assert any("another version of the course" in line for line in lines)
    assert any(f"{middle.name}: it cannot be read" in line for line in lines)
    assert f"resumed from {old}" in lines[-1]
    assert history.resumes == [old_steps]
    assert not (tmp_path / ".partial-0123abcd").exists()  # cleared by the next save

    # Nothing usable at all: a clear error, and a fresh folder with a partial write only.
    for path in Checkpoints(tmp_path).entries():
        (path / "meta.json").unlink()
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        dqn_scratch.train(BUDGET, seed=0, progress=False, checkpoints=Checkpoints(tmp_path))
    only_partial = tmp_path / "other"
    (only_partial / ".partial-feedbeef").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="only an unfinished write"):
        dqn_scratch.train(BUDGET, seed=0, progress=False, checkpoints=Checkpoints(only_partial))


def test_an_empty_folder_starts_a_new_run(tmp_path):
    folder = Checkpoints(tmp_path / "new", log=None)
    _, history = dqn_scratch.train(BUDGET, seed=0, progress=False, checkpoints=folder)
    assert history.resumes == [] and folder.latest() is not None


# --- a real kill: SIGKILL in the middle of a run --------------------------------------------


def script_options(out: Path) -> list[str]:
    return [
        "--hidden-layers", "32,32", "--target-return", "none", "--max-episode-return", "none",
        "--initial-collect-steps", "200", "--collect-steps-per-iteration", "64",
        "--train-steps-per-iteration", "32", "--max-env-steps", str(200 + 64 * 40),
        "--eval-interval", "5", "--eval-episodes", "3", "--solve-episodes", "3",
        "--seed", "5", "--no-video", "--no-progress", "--out", str(out),
    ]  # fmt: skip


def run_script(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(TRAIN), *args], capture_output=True, text=True, env=env, **kwargs
    )


def test_sigkill_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    whole = run_script(*script_options(tmp_path / "whole"), "--checkpoint-every", "0")
    assert whole.returncode == 0, whole.stderr
    killed_out = tmp_path / "killed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        [sys.executable, str(TRAIN), *script_options(killed_out), "--checkpoint-every", "64"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 240
        while len(Checkpoints(killed_out / "checkpoints").entries()) < 2:
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    kept = Checkpoints(killed_out / "checkpoints").latest()
    saved_steps = json.loads((kept / "meta.json").read_text())["progress"]["env_steps"]
    assert 200 < saved_steps < 200 + 64 * 40
    resumed = run_script("--resume", str(killed_out))  # settings and seed from the checkpoint
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((killed_out / "metrics.json").read_text())
    assert b["history"]["resumes"] and b["history"]["resumes"][0] >= saved_steps
    assert a["seed"] == b["seed"] == 5
    for key in ("losses", "eval_returns", "episode_returns", "eval_epsilons"):
        assert a["history"][key] == b["history"][key], key
    assert (a["env_steps"], a["train_steps"]) == (b["env_steps"], b["train_steps"])
    import h5py

    whole_file = tmp_path / "whole" / "q_network.weights.h5"
    with h5py.File(whole_file) as x, h5py.File(killed_out / "q_network.weights.h5") as y:
        names = []
        x.visit(lambda name: names.append(name) if isinstance(x[name], h5py.Dataset) else None)
        assert names and all(np.array_equal(x[n][()], y[n][()]) for n in names)


def test_resume_option_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_script("--resume", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no usable checkpoint in" in result.stderr.strip().splitlines()[-1]
    result = run_script("--resume", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no such folder" in result.stderr
    result = run_script("--checkpoint-every", "-1")
    assert result.returncode == 2 and "--checkpoint-every must be >= 0" in result.stderr


# --- TF-Agents' DQN: both replay memories ----------------------------------------------------

TF_AGENTS = dqn.COURSE.replace(
    hidden_layers=(32,),
    target_return=None,
    max_episode_return=None,
    initial_collect_steps=100,
    collect_steps_per_iteration=64,
    train_steps_per_iteration=16,
    sample_size=256,
    num_iterations=4,
    eval_interval=2,
    eval_episodes=2,
    solve_episodes=2,
)


@pytest.mark.parametrize("backend", ["uniform", "reverb"])
def test_tf_agents_dqn_resumes_agent_replay_and_history(backend, tmp_path):
    if backend == "reverb" and not replay.reverb_available():
        pytest.skip("Reverb cannot be imported here")
    agent, first = dqn.train_from_scratch(
        TF_AGENTS, seed=0, progress=False, backend=backend,
        checkpoints=Checkpoints(tmp_path, every=32, log=None),
    )  # fmt: skip
    saved = weights(agent._q_network)
    newest = Checkpoints(tmp_path).latest()
    assert (newest / "reverb").is_dir() == (backend == "reverb")

    # Restore into a new agent and replay memory, as a new process would.
    import tensorflow as tf

    env = dqn.make_env(TF_AGENTS, seed=1)
    fresh = dqn.build_agent(TF_AGENTS, env)
    capacity = TF_AGENTS.replay_capacity
    with replay.make_replay(fresh.collect_data_spec, capacity, backend=backend) as memory:
        run = dqn.TrainingRun(
            fresh, TF_AGENTS, progress=False, checkpoints=Checkpoints(tmp_path, log=None),
            replay=memory,
        )  # fmt: skip
        assert memory.num_frames() == 0
        assert run.resume() == first.env_steps
        assert same_weights(weights(fresh._q_network), saved)
        assert int(fresh.train_step_counter.numpy()) == first.train_steps
        # Every step played is back (the driver also writes one item per episode boundary).
        assert memory.num_frames() >= first.env_steps - 1
        assert isinstance(memory.dataset(4, num_steps=2), tf.data.Dataset)
        assert run.history.eval_returns == first.eval_returns

    _, later = dqn.train_from_scratch(
        TF_AGENTS.replace(num_iterations=6), seed=0, progress=False, backend=backend,
        checkpoints=Checkpoints(tmp_path, every=32, log=None),
    )  # fmt: skip
    assert later.resumes == [first.env_steps]
    assert later.env_steps == first.env_steps + 2 * 64
    assert later.train_steps == first.train_steps + 2 * 16
    assert later.eval_returns[: len(first.eval_returns)] == first.eval_returns


def test_another_trainer_is_refused(tmp_path):
    from utils.agents import actor_critic as ac

    dqn_scratch.train(BUDGET, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, log=None))
    settings = ac.ActorCriticSettings(hidden_units=8, max_episodes=2)
    with pytest.raises(CheckpointError, match="trainer 'dqn_scratch' there, 'actor_critic' here"):
        ac.train(
            ac.build_model(hidden_units=8),
            settings,
            progress=False,
            checkpoints=Checkpoints(tmp_path, log=None),
        )


def test_tf_agents_dqn_refuses_the_other_replay_memory(tmp_path):
    if not replay.reverb_available():
        pytest.skip("Reverb cannot be imported here")
    dqn.train_from_scratch(
        TF_AGENTS, seed=0, progress=False, backend="reverb",
        checkpoints=Checkpoints(tmp_path, log=None),
    )  # fmt: skip
    with pytest.raises(CheckpointError, match="replay 'ReverbReplay' there, 'UniformReplay' here"):
        dqn.train_from_scratch(
            TF_AGENTS, seed=0, progress=False, backend="uniform",
            checkpoints=Checkpoints(tmp_path, log=None),
        )  # fmt: skip


# --- the other trainers ----------------------------------------------------------------------


def test_actor_critic_resumes_exactly(tmp_path):
    from utils.agents import actor_critic as ac

    settings = ac.ActorCriticSettings(
        hidden_units=16, max_episodes=12, eval_gate=1e9, target_return=None,
        max_episode_return=None,
    )  # fmt: skip
    import tensorflow as tf

    def model():
        tf.keras.utils.set_random_seed(0)
        return ac.build_model(hidden_units=16)

    whole_model = model()
    whole = ac.train(whole_model, settings, seed=0, progress=False)
    first = ac.train(
        model(), settings.replace(max_episodes=5), seed=0, progress=False,
        checkpoints=Checkpoints(tmp_path, every=2, log=None),
    )  # fmt: skip
    resumed_model = model()
    later = ac.train(
        resumed_model, settings, seed=0, progress=False,
        checkpoints=Checkpoints(tmp_path, every=2, log=None),
    )  # fmt: skip
    assert later.resumes == [first.env_steps]
    assert later.episode_returns == whole.episode_returns
    assert later.losses == whole.losses
    assert same_weights(resumed_model.get_weights(), whole_model.get_weights())


def test_ppo_resumes_its_agent_and_history(tmp_path):
    from utils.agents import ppo

    settings = ppo.PpoSettings(
        num_envs=2, collect_steps_per_env=16, actor_layers=(8,), value_layers=(8,),
        num_iterations=3, num_epochs=2, eval_gate=1e9, target_return=None,
        max_episode_return=None,
    )  # fmt: skip
    agent, first = ppo.train_from_scratch(
        settings, seed=0, progress=False, checkpoints=Checkpoints(tmp_path, every=2, log=None)
    )
    saved = [v.numpy().copy() for v in agent.trainable_variables]
    assert first.train_steps == 6
    _fresh, later = ppo.train_from_scratch(
        settings.replace(num_iterations=5), seed=1, progress=False,
        checkpoints=Checkpoints(tmp_path, every=2, log=None),
    )  # fmt: skip
    assert later.resumes == [first.env_steps] and later.train_steps == 10
    assert later.env_steps == 5 * 2 * 16
    assert later.episode_returns[: len(first.episode_returns)] == first.episode_returns
    fresh2 = ppo.build_agent(settings, ppo.make_train_env(settings, seed=0))
    run = ppo.ppo_checkpointed(
        Checkpoints(tmp_path, log=None), settings, fresh2,
        ppo.ppo_checks(fresh2, settings, ppo.PpoHistory(), 0.0),
    )  # fmt: skip
    assert run.resume() and int(fresh2.train_step_counter.numpy()) == 10
    assert not same_weights([v.numpy() for v in fresh2.trainable_variables], saved)  # it trained on


@pytest.mark.parametrize("backend", ["uniform", "reverb"])
def test_continuous_control_resumes(backend, tmp_path):
    from utils.agents import continuous

    if backend == "reverb" and not replay.reverb_available():
        pytest.skip("Reverb cannot be imported here")
    settings = SHORT.replace(agent="td3")
    _, first = continuous.train(
        settings, seed=0, root_dir=str(tmp_path / "a"), backend=backend, progress=False,
        checkpoints=Checkpoints(tmp_path / "ckpt", every=20, log=None),
    )  # fmt: skip
    assert first.env_steps == 500 and first.train_steps == 40
    _, later = continuous.train(
        settings.replace(max_env_steps=700), seed=0, root_dir=str(tmp_path / "b"),
        backend=backend, progress=False,
        checkpoints=Checkpoints(tmp_path / "ckpt", every=20, log=None),
    )  # fmt: skip
    assert later.resumes == [500] and later.env_steps == 700 and later.train_steps == 80
    assert later.losses[:2] == first.losses


# --- saved policies, played in a process that imports neither the course nor TF-Agents -------


def play(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(PLAY), str(folder), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(Path(folder).parent),
    )


def test_saved_policies_play_without_the_course(tmp_path):
    import tensorflow as tf
    from tf_agents.policies import policy_saver

    env = dqn.make_env(TF_AGENTS)
    agent = dqn.build_agent(TF_AGENTS, env)
    policy_saver.PolicySaver(agent.policy, batch_size=None).save(str(tmp_path / "tf_agents"))
    q_network = dqn_scratch.make_q_network(4, 2, (8,))
    checkpoints.export_greedy(q_network, tmp_path / "greedy")
    expected = {
        "tf_agents": "TF-Agents policy (PolicySaver)",
        "greedy": "greedy Q-network (export_greedy)",
    }
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    for name, kind in expected.items():
        result = play(tmp_path / name, "--episodes", "3", "--json")
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        assert figures["kind"] == kind and len(figures["returns"]) == 3
        assert not figures["course_code_imported"] and not figures["tf_agents_imported"]
        assert figures["bytes"] > 0 and figures["seconds_per_action_one"] > 0
    loaded = tf.saved_model.load(str(tmp_path / "greedy"))
    actions = loaded.signatures["action"](observation=tf.constant(observations))["action"]
    np.testing.assert_array_equal(actions, np.argmax(q_network(observations), axis=-1))


def test_saved_policy_errors_are_one_line(tmp_path):
    (tmp_path / "not_a_model").mkdir()
    result = play(tmp_path / "not_a_model")
    assert result.returncode == 2 and "is not a SavedModel" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    checkpoints.export_greedy(dqn_scratch.make_q_network(4, 2, (8,)), tmp_path / "greedy")
    result = play(tmp_path / "greedy", "--env-name", "Acrobot-v1")
    assert result.returncode == 2
    assert "takes observations of shape (4,), but Acrobot-v1 gives (6,)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
