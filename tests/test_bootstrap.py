"""Tests for utils.bootstrap (the setup cell's logic) and scripts/set_repo_url.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from utils import bootstrap

ROOT = Path(__file__).resolve().parent.parent


def test_this_is_the_pinned_environment_and_setup_installs_nothing(monkeypatch, capsys):
    if not bootstrap.is_pinned_environment():
        pytest.skip("not the pinned lane")
    monkeypatch.setattr(bootstrap, "install_missing", lambda *_: pytest.fail("installed"))
    bootstrap.setup(display="dummy")
    out = capsys.readouterr().out
    assert "nothing to install" in out and "rendering: dummy" in out


def test_companions_known_and_unknown():
    assert bootstrap.companions("2.21.0") == ("2.21.0", "0.25.0", "2.21.0")
    assert bootstrap.companions("2.19.1")[0] == "2.19.0"
    with pytest.raises(RuntimeError, match="make course"):
        bootstrap.companions("2.9.0")


def test_colab_requirements_are_exact_pins():
    pins = bootstrap.read_requirements()
    assert pins["tf-agents"] == "0.19.0"
    assert "tensorflow" not in pins and "numpy" not in pins, "never replace the runtime's own"
    assert "dm-reverb" not in pins


def test_read_requirements_rejects_ranges(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("gym>=0.23\n")
    with pytest.raises(ValueError, match="name==version"):
        bootstrap.read_requirements(path)


def test_plan_install_lists_missing_and_puts_tf_agents_last(monkeypatch):
    present = {"gym": "0.23.1", "tqdm": "0.0.1"}
    monkeypatch.setattr(bootstrap, "installed", lambda name: present.get(name))
    normal, no_deps = bootstrap.plan_install("2.21.0")
    assert no_deps == ["tf-agents==0.19.0"]
    assert "gym==0.23.1" not in normal  # already there at the pinned version
    assert "tqdm==4.70.1" in normal  # there, but not the pinned version
    assert {"tf-keras==2.21.0", "tensorflow-probability==0.25.0"} <= set(normal)


def test_install_missing_keeps_tensorflow_and_numpy(monkeypatch):
    calls = []

    def fake_run(command, **_):
        constraints = Path(command[command.index("-c") + 1]).read_text()
        calls.append((command, constraints))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(
        bootstrap, "plan_install", lambda v: (["gym==0.23.1"], ["tf-agents==0.19.0"])
    )
    monkeypatch.setattr(bootstrap.subprocess, "run", fake_run)
    added = bootstrap.install_missing("2.21.0")
    assert added == ["gym==0.23.1", "tf-agents==0.19.0"]
    assert "tensorflow==2.21.0" in calls[0][1] and "numpy==" in calls[0][1]
    assert "--no-deps" in calls[1][0]


def test_failed_install_shows_the_command(monkeypatch):
    monkeypatch.setattr(bootstrap, "plan_install", lambda v: (["gym==0.23.1"], []))
    monkeypatch.setattr(
        bootstrap.subprocess,
        "run",
        lambda command, **_: subprocess.CompletedProcess(command, 1, "", "no matching dist"),
    )
    with pytest.raises(RuntimeError, match="no matching dist"):
        bootstrap.install_missing("2.21.0")


def test_no_tensorflow_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(bootstrap, "is_pinned_environment", lambda: False)
    monkeypatch.setattr(bootstrap, "tensorflow_version", lambda: None)
    with pytest.raises(RuntimeError, match="TensorFlow is not installed"):
        bootstrap.setup()


def test_setup_cell_finds_the_course_from_the_notebooks_folder(tmp_path):
    # Run the cell's finding logic (not the setup call) from notebooks/: no clone needed.
    cell = bootstrap.SETUP_CELL.replace("bootstrap.setup()", "print(root)")
    result = subprocess.run(
        [sys.executable, "-c", cell], cwd=ROOT / "notebooks", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT


def copy_course(tmp_path):
    for name in ("notebooks", "utils", "scripts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    for name in ("README.md", "requirements-colab.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_set_repo_url_rewrites_everything_consistently(tmp_path):
    course = copy_course(tmp_path)
    script = [sys.executable, str(course / "scripts" / "set_repo_url.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    result = subprocess.run([*script, "someone/their-fork"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'REPO = "someone/their-fork"' in (course / "utils" / "bootstrap.py").read_text()
    notebook = (course / "notebooks" / "00_rl_basics.ipynb").read_text()
    assert "github/someone/their-fork/blob/main/notebooks/00_rl_basics.ipynb" in notebook
    assert 'REPO = \\"someone/their-fork\\"' in notebook
    assert "someone/their-fork" in (course / "README.md").read_text()
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0


def test_set_repo_url_check_catches_a_stale_badge(tmp_path):
    course = copy_course(tmp_path)
    readme = course / "README.md"
    readme.write_text(readme.read_text().replace("github/", "github/stale-", 1))
    result = subprocess.run(
        [sys.executable, str(course / "scripts" / "set_repo_url.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "README.md" in result.stdout


def test_set_repo_url_rejects_a_bad_name(tmp_path):
    course = copy_course(tmp_path)
    result = subprocess.run(
        [sys.executable, str(course / "scripts" / "set_repo_url.py"), "not a repo"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "OWNER/NAME" in result.stderr


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.15.1", False), ("2.16.0", True), ("2.21.0", True), ("2.9.3", False), (None, False)],
)
def test_legacy_keras_only_where_tf_keras_is_keras_3(version, expected):
    assert bootstrap.needs_legacy_keras(version) is expected


def test_setup_in_pinned_lane_leaves_tf_use_legacy_keras_unset(monkeypatch):
    if not bootstrap.is_pinned_environment():
        pytest.skip("not the pinned lane")
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    bootstrap.setup(display="dummy")
    # TensorFlow 2.15 would try to import the missing tf_keras package if it were set.
    assert "TF_USE_LEGACY_KERAS" not in __import__("os").environ
