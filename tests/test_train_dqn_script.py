"""scripts/train_dqn.py: its options, its one-line errors, and a short real run."""

import csv
import importlib.util
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
        "--env-name",
        "--max-env-steps",
        "--seed",
        "--learning-rate",
        "--gamma",
        "--epsilon-start",
        "--epsilon-end",
        "--epsilon-decay-steps",
        "--replay-capacity",
        "--batch-size",
        "--target-update-period",
        "--out",
        "--overwrite",
        "--no-progress",
    ):
        assert option in result.stdout
    assert "CartPole-v1" in result.stdout and "Double DQN" in result.stdout
    # Every settings field is an option, and defaults are shown as the option accepts them.
    import dataclasses

    from utils.agents import dqn_scratch

    for field in dataclasses.fields(dqn_scratch.ScratchSettings):
        assert "--" + field.name.replace("_", "-") in result.stdout, field.name
    assert "(default: 256,256)" in result.stdout  # --hidden-layers
    assert "or none (default: 10)" in result.stdout  # --gradient-clipping accepts none
    assert "--no-double" in result.stdout


def test_help_defaults_are_accepted_back():
    """What --help shows as a default parses to the default itself."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_dqn

    from utils.agents import dqn_scratch

    parser, fields = train_dqn.build_parser()
    shown = {}
    for action in parser._actions:
        if action.dest in fields and "(default: " in (action.help or ""):
            shown[action.dest] = action.help.rsplit("(default: ", 1)[1].rstrip(")")
    assert set(shown) == set(fields)
    argv = []
    for name, text in shown.items():
        argv += [text] if text.startswith("--") else ["--" + name.replace("_", "-"), text]
    settings = train_dqn.settings_from(parser.parse_args(argv), fields)
    assert settings == dqn_scratch.COURSE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env-name", "CartPol-v1"], "Did you mean 'CartPole-v1'"),
        (["--env-name", "Pendulum-v1"], "discrete action space"),
        (
            ["--env-name", "LunarLander-v2"],
            "Gymnasium has 'LunarLander-v3': use --env-name LunarLander-v3.",
        ),
        (["--batch-size", "-3"], "--batch-size: must be a whole number >= 1"),
        (["--replay-capacity", "0"], "--replay-capacity: must be a whole number >= 1"),
        (["--max-env-steps", "-100"], "--max-env-steps: must be a whole number >= 1"),
        (["--max-env-steps", "500"], "--max-env-steps: must be >= initial_collect_steps"),
        (["--gamma", "1.5"], "--gamma: must be in [0, 1]"),
        (["--gamma", "-0.1"], "--gamma: must be in [0, 1]"),
        (["--epsilon-start", "2"], "--epsilon-start: must be in [0, 1]"),
        (["--learning-rate", "0"], "--learning-rate: must be > 0"),
        (["--hidden-layers", "64,x"], "--hidden-layers: expected whole numbers separated"),
        (["--batch-size", "many"], "--batch-size: expected a whole number, got 'many'"),
        (["--gradient-clipping", "big"], "expected a number or none"),
        (["--loss", "l1"], "--loss: must be one of"),
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


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="Box2D is installed")
def test_a_missing_package_is_one_line_naming_what_to_install(tmp_path):
    result = run("--env-name", "LunarLander-v3", "--out", str(tmp_path / "out"), timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert 'pip install swig "gymnasium[box2d]"' in lines[0]


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
        "--max-env-steps", "400", "--initial-collect-steps", "100",
        "--collect-steps-per-iteration", "100", "--train-steps-per-iteration", "20",
        "--hidden-layers", "32", "--epsilon-decay-steps", "40",
        "--seed", "3", "--out", str(out), "--overwrite", "--no-progress",
    )  # fmt: skip
    result = run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_dqn

    assert len(train_dqn.FILES) == 7
    for name in train_dqn.FILES:
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
    assert (out / "saved_policy" / "saved_model.pb").is_file()
    # One checkpoint, at the end (60 train steps: none of the default 1,000-step intervals).
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["ckpt-000000060"]
