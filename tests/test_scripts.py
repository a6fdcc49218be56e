"""Tests for the command-line scripts: notebook stripping, the course runner, venv setup."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def make_notebook(path, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_strip_removes_outputs_and_check_reports(tmp_path):
    path = make_notebook(tmp_path / "a.ipynb", ["print(1)"])
    nb = json.loads(path.read_text())
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    nb["cells"][0]["execution_count"] = 3
    path.write_text(json.dumps(nb))
    strip = [sys.executable, str(SCRIPTS / "strip_notebooks.py")]
    check = subprocess.run([*strip, "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 1 and "make strip" in check.stderr
    assert subprocess.run([*strip, str(path)]).returncode == 0
    cleaned = json.loads(path.read_text())
    assert cleaned["cells"][0]["outputs"] == [] and cleaned["cells"][0]["execution_count"] is None
    assert subprocess.run([*strip, "--check", str(path)]).returncode == 0


def test_run_course_names_the_failing_cell(tmp_path):
    good = make_notebook(
        tmp_path / "00_good.ipynb",
        [
            "from utils.infra import report\nreport.headline('answer', 42)",
        ],
    )
    bad = make_notebook(tmp_path / "01_bad.ipynb", ["x = 1", "assert x == 2, 'x is not two'"])
    env = {"COURSE_BUILD_DIR": str(tmp_path / "build"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "run_course.py"), str(good), str(bad)],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert result.returncode == 1
    assert "answer: 42" in result.stdout
    assert "cell 2 [assert x == 2" in result.stdout and "AssertionError" in result.stdout
    assert "01_bad" in result.stderr
    assert (tmp_path / "build" / "notebooks" / "01_bad.ipynb").exists()
    assert (tmp_path / "build" / "html" / "00_good.html").exists()


def test_setup_venv_refuses_a_missing_python(tmp_path):
    result = subprocess.run(
        ["bash", str(SCRIPTS / "setup_venv.sh"), "python3.99-missing", str(tmp_path / "v")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "needs Python 3.11" in result.stderr and "PYTHON=" in result.stderr


def _bash(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of the shell scripts with its output captured."""
    command = ["bash", str(SCRIPTS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_setup_venv_explains_a_python_that_does_not_run(tmp_path):
    broken = tmp_path / "python3.11"
    broken.write_text("#!/bin/sh\nexit 127\n")
    broken.chmod(0o755)
    result = _bash("setup_venv.sh", str(broken), str(tmp_path / "v"))
    assert result.returncode == 2 and "does not run" in result.stderr


def _python312():
    for candidate in (
        "python3.12",
        *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
    ):
        exe = shutil.which(str(candidate))
        if exe and subprocess.run([exe, "--version"], capture_output=True).returncode == 0:
            return exe
    return None


@pytest.mark.skipif(_python312() is None, reason="no working python3.12 here")
def test_setup_venv_refuses_the_wrong_python(tmp_path):
    result = _bash("setup_venv.sh", _python312(), str(tmp_path / "v"))
    assert result.returncode == 2
    assert "needs 3.11" in result.stderr
    assert not (tmp_path / "v").exists()


FREEZE = """# a header line
tensorflow==2.20.0
tf_keras==2.20.1
numpy==2.1.3
gym==0.25.2
gymnasium==1.3.0
ImageIO==2.37.4
some-package-the-course-ignores==1.0
git+https://example.invalid/a.git
"""
OS_INFO = "# header\nUbuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.6.1\n"


def _colab_runtime(tmp_path, freeze=FREEZE, os_info=OS_INFO):
    (tmp_path / "freeze.txt").write_text(freeze)
    (tmp_path / "os.txt").write_text(os_info)
    out = tmp_path / "hosted.txt"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "colab_runtime.py"),
            str(tmp_path / "freeze.txt"),
            str(tmp_path / "os.txt"),
            *("--source", "backend-info at abc (2026-08-19)", "-o", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, out


def test_colab_runtime_keeps_the_course_subset_at_colabs_versions(tmp_path):
    result, out = _colab_runtime(tmp_path)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "# python: 3.13    (Colab: 3.13.15)" in text
    assert "backend-info at abc (2026-08-19)" in text
    pins = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert pins[:6] == [
        "tensorflow==2.20.0",
        "tf_keras==2.20.1",
        "numpy==2.1.3",
        "gym==0.25.2",
        "gymnasium==1.3.0",
        "ImageIO==2.37.4",
    ]
    assert "some-package-the-course-ignores==1.0" not in text
    assert pins[-2:] == ["nbval==0.11.0", "pytest==9.2.0"]


def test_colab_runtime_refuses_files_that_are_not_colabs(tmp_path):
    result, out = _colab_runtime(tmp_path, os_info="Ubuntu\n")
    assert result.returncode == 2 and "no 'Python X.Y.Z' line" in result.stderr
    result, out = _colab_runtime(tmp_path, freeze="numpy==2.1.3\n")
    assert result.returncode == 2 and "lists no tensorflow" in result.stderr
    assert not out.exists()


def test_the_hosted_requirements_files_are_colabs_runtimes():
    for name, python in (
        ("requirements-hosted.txt", "3.13"),
        ("requirements-hosted-3.12.txt", "3.12"),
    ):
        text = (SCRIPTS.parent / name).read_text()
        assert f"# python: {python} " in text and "googlecolab/backend-info at " in text, name


def test_setup_hosted_venv_needs_a_python_line(tmp_path):
    bare = tmp_path / "bare.txt"
    bare.write_text("tensorflow==2.20.0\n")
    result = _bash("setup_hosted_venv.sh", str(bare), str(tmp_path / "v"))
    assert result.returncode == 2 and "no '# python: X.Y' line" in result.stderr
    assert not (tmp_path / "v").exists()
