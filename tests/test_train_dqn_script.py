"""scripts/train_dqn.py: its options, its one-line errors, and a short real run."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_dqn.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SDL_VIDEODRIVER": "dummy"}


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=timeout,
    )


def test_help_lists_the_options():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for option in (
        "--env",
        "--steps",
        "--seed",
        "--lr",
        "--gamma",
        "--epsilon-start",
        "--epsilon-end",
        "--epsilon-decay-steps",
        "--buffer-size",
        "--batch-size",
        "--target-update",
        "--out",
        "--overwrite",
        "--no-progress",
    ):
        assert option in result.stdout
    assert "CartPole-v1" in result.stdout and "Double DQN" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "CartPol-v1"], "Did you mean 'CartPole-v1'"),
        (["--env", "Pendulum-v1"], "discrete action space"),
        (["--batch-size", "-3"], "--batch-size: must be a whole number >= 1"),
        (["--buffer-size", "0"], "--buffer-size: must be a whole number >= 1"),
        (["--steps", "-100"], "--steps: must be a whole number >= 1"),
        (["--gamma", "1.5"], "gamma must be in [0, 1]"),
        (["--gamma", "-0.1"], "gamma must be in [0, 1]"),
        (["--epsilon-start", "2"], "--epsilon-start: must be in [0, 1]"),
        (["--lr", "0"], "--lr: must be > 0"),
        (["--hidden", "64,x"], "--hidden: must look like 256,256"),
        (["--batch-size", "many"], "--batch-size: invalid positive_int value"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_nonzero_with_one_line(tmp_path, args, message):
    result = run(*args, "--out", str(tmp_path / "out"), timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and lines[0].startswith("train_dqn.py: error:")
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_output_folder(tmp_path):
    (tmp_path / "old.txt").write_text("keep me")
    result = run("--out", str(tmp_path), timeout=120)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_short_run_writes_every_file(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    args = (
        "--steps", "400", "--learning-starts", "100", "--collect-steps", "100",
        "--train-steps", "20", "--hidden", "32", "--epsilon-decay-steps", "40",
        "--seed", "3", "--out", str(out), "--overwrite", "--no-progress",
    )  # fmt: skip
    result = run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "learning_curve.png",
        "metrics.csv",
        "metrics.json",
        "q_network.weights.h5",
        "policy.gif",
        "policy.mp4",
    ):
        path = out / name
        assert path.exists() and path.stat().st_size > 100, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] == 400 and metrics["train_steps"] == 60
    assert metrics["seed"] == 3 and metrics["settings"]["hidden_layers"] == [32]
    assert metrics["settings"]["epsilon_decay_steps"] == 40 and not metrics["solved"]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["env_steps"]) for r in rows] == [200, 300, 400]
    assert float(rows[-1]["epsilon"]) == pytest.approx(0.04)
    assert (out / "policy.gif").read_bytes()[:3] == b"GIF"
    assert b"ftyp" in (out / "policy.mp4").read_bytes()[:16]
