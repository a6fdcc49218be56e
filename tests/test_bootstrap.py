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


@pytest.mark.parametrize(
    ("version", "keras"),
    [("2.22.0", "~=2.22.0"), ("2.22.0rc1", "~=2.22.0rc0"), ("2.23.1", "~=2.23.0")],
)
def test_companions_for_a_newer_tensorflow_are_its_tf_keras_and_the_newest_known(version, keras):
    newest = bootstrap.COMPANIONS["2.21"]
    assert bootstrap.companions(version) == (keras, newest[1], newest[2])
    assert bootstrap.is_newer_than_known(version)


@pytest.mark.parametrize("version", ["2.15.0", "2.14.1", "2.10.0", "1.15.5"])
def test_companions_for_an_older_unknown_tensorflow_stop(version):
    assert not bootstrap.is_newer_than_known(version)
    with pytest.raises(RuntimeError, match=r"known: 2\.16, .*2\.21, or the pinned 2\.15"):
        bootstrap.companions(version)


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("2.22.0", "~=2.22.0", True),
        ("2.22.3", "~=2.22.0", True),
        ("2.21.0", "~=2.22.0", False),
        ("2.23.0", "~=2.22.0", False),
        ("2.22.0rc0", "~=2.22.0rc0", True),
        ("2.22.1", ">=2.22,<2.23", True),
        ("2.23.0", ">=2.22,<2.23", False),
        ("2.21.0", "==2.21.0", True),
        ("2.21.1", "==2.21.0", False),
        (None, "~=2.22.0", False),
    ],
)
def test_satisfies_exact_pins_and_ranges(version, spec, expected):
    assert bootstrap.satisfies(version, spec) is expected


def test_satisfies_ranges_without_packaging(monkeypatch):
    monkeypatch.setitem(sys.modules, "packaging.specifiers", None)  # import fails
    assert bootstrap.satisfies("2.22.4", "~=2.22.0")
    assert bootstrap.satisfies("2.22.0", ">=2.22,<2.23")
    assert not bootstrap.satisfies("2.21.0", "~=2.22.0")
    assert not bootstrap.satisfies("2.23.0", ">=2.22,<2.23")


def fake_hosted_runtime(monkeypatch, tf_version, present=None):
    """A runtime with this TensorFlow and nothing else installed unless listed; no real pip."""
    present = {"tensorflow": tf_version, "numpy": "2.0.2", **(present or {})}
    monkeypatch.setattr(bootstrap, "installed", lambda name: present.get(name))
    monkeypatch.setattr(bootstrap, "tensorflow_version", lambda: tf_version)
    monkeypatch.setattr(bootstrap, "is_pinned_environment", lambda: False)
    monkeypatch.setattr("utils.infra.runtime.setup", lambda display: display)
    for name in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(name, "")  # records the old value, so what setup() sets is undone
        monkeypatch.delenv(name)
    calls = []

    def fake_run(command, **_):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bootstrap.subprocess, "run", fake_run)
    return calls


def test_newer_tensorflow_installs_its_tf_keras_with_a_one_line_note(monkeypatch, capsys):
    calls = fake_hosted_runtime(monkeypatch, "2.22.0")
    normal, no_deps = bootstrap.plan_install("2.22.0")
    assert {"tf-keras~=2.22.0", "tensorflow-probability==0.25.0", "tensorboard==2.21.0"} <= set(
        normal
    )
    assert no_deps == ["tf-agents==0.19.0"]
    bootstrap.setup(display="dummy")
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "untested" in line]
    assert notes == [
        "note: TensorFlow 2.22.0 is newer than the versions this course was tested with "
        "(2.16-2.21); trying tf-keras 2.22.*, TensorFlow Probability 0.25.0, "
        "TensorBoard 2.21.0 (untested)"
    ]
    assert "tf-keras~=2.22.0" in calls[0] and "--pre" not in calls[0]
    assert "TensorFlow 2.22.0 (hosted lane); installed: " in out


def test_newer_tensorflow_with_its_tf_keras_already_there_installs_no_tf_keras(monkeypatch):
    fake_hosted_runtime(monkeypatch, "2.23.1", {"tf-keras": "2.23.0"})
    normal, _ = bootstrap.plan_install("2.23.1")
    assert not any(r.startswith("tf-keras") for r in normal)
    assert "tensorboard==2.21.0" in normal


def test_release_candidate_allows_a_tf_keras_pre_release(monkeypatch, capsys):
    calls = fake_hosted_runtime(monkeypatch, "2.22.0rc1")
    added = bootstrap.install_missing("2.22.0rc1")
    assert "tf-keras~=2.22.0rc0" in added and "tf-keras~=2.22.0rc0" in calls[0]
    assert "TensorFlow 2.22.0rc1 is newer" in capsys.readouterr().out


def test_newer_tensorflow_whose_install_fails_stops_with_the_old_message(monkeypatch, capsys):
    fake_hosted_runtime(monkeypatch, "2.22.0")
    monkeypatch.setattr(
        bootstrap.subprocess,
        "run",
        lambda command, **_: subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for tf-keras~=2.22.0"
        ),
    )
    with pytest.raises(RuntimeError) as caught:
        bootstrap.setup(display="dummy")
    message = str(caught.value)
    assert message.startswith("TensorFlow 2.22.0 is not one this course knows how to complete")
    assert "known: 2.16, 2.17, 2.18, 2.19, 2.20, 2.21, or the pinned 2.15" in message
    assert "make course" in message
    assert "No matching distribution found for tf-keras~=2.22.0" in message
    assert "untested" in capsys.readouterr().out


@pytest.mark.parametrize("version", ["2.14.1", "2.10.0", "1.15.5"])
def test_older_unknown_tensorflow_stops_before_installing(monkeypatch, capsys, version):
    calls = fake_hosted_runtime(monkeypatch, version)
    with pytest.raises(RuntimeError, match=f"TensorFlow {version} is not one this course knows"):
        bootstrap.setup(display="dummy")
    assert calls == []
    assert "untested" not in capsys.readouterr().out


def test_known_tensorflow_installs_exact_pins_without_a_note(monkeypatch, capsys):
    calls = fake_hosted_runtime(monkeypatch, "2.20.0")
    bootstrap.setup(display="dummy")
    assert {"tf-keras==2.20.1", "tensorflow-probability==0.25.0", "tensorboard==2.20.0"} <= set(
        calls[0]
    )
    assert "untested" not in capsys.readouterr().out


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
    assert f"tqdm=={bootstrap.read_requirements()['tqdm']}" in normal  # not the pinned version
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
