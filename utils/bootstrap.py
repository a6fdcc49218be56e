"""Getting a notebook ready anywhere: the pinned course environment, Colab, or any Python
that already has TensorFlow.

Taught in notebook 00. The first code cell of every notebook is :data:`SETUP_CELL`, the same
in all of them (a test checks this): it finds the course's ``utils`` package next to the
notebook, or clones the repository when the notebook was opened on its own (Colab), then
calls :func:`setup`.

* In the pinned environment (Python 3.11, TensorFlow 2.15, ``make``), :func:`setup` installs
  nothing and says so.
* Elsewhere (a hosted runtime with Python 3.12 and a recent TensorFlow), it installs what is
  missing from ``requirements-colab.txt`` plus ``tf-keras``, TensorFlow Probability and
  TensorBoard in the versions that match the runtime's TensorFlow, with a pip constraint that
  keeps the runtime's own TensorFlow and numpy. It sets ``TF_USE_LEGACY_KERAS=1`` so that
  ``tf.keras`` is Keras 2, which TF-Agents needs.
* A TensorFlow newer than :data:`COMPANIONS` (a hosted runtime that upgraded) gets the
  ``tf-keras`` of its own minor version (``tf-keras~=2.22.0``; pre-releases only for a
  pre-release TensorFlow) and the newest known TensorFlow Probability and TensorBoard, with a
  one-line note that the combination is untested; only if that install fails does it stop.
  An older TensorFlow that is neither in the table nor the pinned 2.15 stops at once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

# The course's public repository: the one setting that badges, the setup cell and this module
# share. Change it with `python scripts/set_repo_url.py OWNER/NAME`; a test checks they agree.
REPO = "tf-rl-course/tf-rl-course"
BRANCH = "main"

ROOT = Path(__file__).resolve().parent.parent
COLAB_REQUIREMENTS = ROOT / "requirements-colab.txt"
PINNED = {"tensorflow": "2.15.1", "tf-agents": "0.19.0"}

# TensorFlow minor version -> (tf-keras, tensorflow-probability, tensorboard) that work with it.
COMPANIONS = {
    "2.16": ("2.16.0", "0.24.0", "2.16.2"),
    "2.17": ("2.17.0", "0.24.0", "2.17.1"),
    "2.18": ("2.18.0", "0.24.0", "2.18.0"),
    "2.19": ("2.19.0", "0.25.0", "2.19.0"),
    "2.20": ("2.20.1", "0.25.0", "2.20.0"),
    "2.21": ("2.21.0", "0.25.0", "2.21.0"),
}

SETUP_CELL = f'''# Setup: finds the course's helpers (or fetches them in Colab), installs what is
# missing (nothing in the course's own environment) and makes rendering headless.
import sys
from pathlib import Path

REPO = "{REPO}"
here = [Path.cwd(), *Path.cwd().parents]
root = next((p for p in here if (p / "utils" / "bootstrap.py").exists()), None)
if root is None:  # opened on its own, e.g. in Colab: fetch the course next to it
    root = Path("tf-rl-course").resolve()
    if not root.exists():
        import subprocess

        url = f"https://github.com/{{REPO}}.git"
        subprocess.run(["git", "clone", "--depth", "1", url, str(root)], check=True)
sys.path.insert(0, str(root))
from utils import bootstrap

bootstrap.setup()'''


def installed(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tensorflow_version() -> str | None:
    """Version of the installed TensorFlow (any of its distribution names), or None."""
    for name in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        version = installed(name)
        if version:
            return version
    return None


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    return major, minor


def needs_legacy_keras(tf_version: str | None) -> bool:
    """True for TensorFlow 2.16 and later, whose tf.keras is Keras 3 unless told otherwise."""
    if not tf_version:
        return False
    return _major_minor(tf_version) >= (2, 16)


def is_pinned_environment() -> bool:
    """True in the course's own pinned environment (``make``, the Docker image)."""
    return all(installed(name) == version for name, version in PINNED.items())


NEWEST = max(COMPANIONS, key=_major_minor)  # the newest TensorFlow minor the course was tested with


def is_newer_than_known(tf_version: str) -> bool:
    """True for a TensorFlow newer than every row of :data:`COMPANIONS` (untested, but tried)."""
    return _major_minor(tf_version) > _major_minor(NEWEST)


def is_prerelease(version: str) -> bool:
    """True for a pre-release or development version such as ``2.22.0rc1`` or ``2.22.0.dev1``."""
    return re.search(r"\d(a|b|rc|\.?dev)\d*$", version.split("+")[0]) is not None


def unknown_version_message(tf_version: str) -> str:
    known = ", ".join(sorted(COMPANIONS))
    return (
        f"TensorFlow {tf_version} is not one this course knows how to complete (known: "
        f"{known}, or the pinned 2.15). Use the pinned environment (README: `make course`) "
        "or install a TensorFlow from that list."
    )


def companions(tf_version: str) -> tuple[str, str, str]:
    """The tf-keras, TensorFlow Probability and TensorBoard versions for a TensorFlow version.

    For a TensorFlow newer than the table, tf-keras is a requirement specifier for its own minor
    version (``~=2.22.0``, or ``~=2.22.0rc0`` for a pre-release TensorFlow) and the other two are
    the newest known ones.
    """
    minor = ".".join(tf_version.split(".")[:2])
    if minor in COMPANIONS:
        return COMPANIONS[minor]
    if not is_newer_than_known(tf_version):
        raise RuntimeError(unknown_version_message(tf_version))
    major, minor_number = _major_minor(tf_version)
    keras = f"~={major}.{minor_number}.0" + ("rc0" if is_prerelease(tf_version) else "")
    _, probability, board = COMPANIONS[NEWEST]
    return keras, probability, board


def untested_note(tf_version: str) -> str:
    """The one line printed when trying companions for a TensorFlow newer than the table."""
    oldest = min(COMPANIONS, key=_major_minor)
    major, minor = _major_minor(tf_version)
    _, probability, board = companions(tf_version)
    return (
        f"note: TensorFlow {tf_version} is newer than the versions this course was tested with "
        f"({oldest}-{NEWEST}); trying tf-keras {major}.{minor}.*, TensorFlow Probability "
        f"{probability}, TensorBoard {board} (untested)"
    )


def read_requirements(path: Path = COLAB_REQUIREMENTS) -> dict[str, str]:
    """``name==version`` lines of a requirements file, as a dict."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)", line)
        if not match:
            raise ValueError(f"{path.name}: expected name==version, got {line!r}")
        pins[match.group(1)] = match.group(2)
    return pins


def normal_name(name: str) -> str:
    """A distribution's name as pip compares it: ``TF_Keras`` -> ``tf-keras`` (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def satisfies(version: str | None, spec: str) -> bool:
    """True when an installed version meets a specifier such as ``==2.21.0`` or ``~=2.22.0``.

    Without ``packaging``, a range (``~=2.22.0``, ``>=2.22,<2.23``) is read as "the same
    major.minor as its first version".
    """
    if version is None:
        return False
    if spec.startswith("==") and "," not in spec:
        return version == spec[2:]
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:
        return _major_minor(version) == _major_minor(spec)
    return SpecifierSet(spec).contains(version, prereleases=True)


def plan_install(tf_version: str) -> tuple[list[str], list[str]]:
    """What to install: (requirements resolved normally, requirements installed --no-deps)."""
    keras, probability, board = companions(tf_version)
    wanted = {n: f"=={v}" for n, v in read_requirements().items()}
    wanted["tf-keras"] = keras if keras.startswith("~=") else f"=={keras}"
    wanted["tensorflow-probability"] = f"=={probability}"
    wanted["tensorboard"] = f"=={board}"
    todo = {n: spec for n, spec in wanted.items() if not satisfies(installed(normal_name(n)), spec)}
    no_deps = [n + spec for n, spec in todo.items() if normal_name(n) == "tf-agents"]
    normal = [n + spec for n, spec in todo.items() if normal_name(n) != "tf-agents"]
    return normal, no_deps


def _pip(args: list[str], constraints: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(constraints), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # pip's ERROR lines say why; its warnings (e.g. about package indexes) only crowd them out
        lines = [line for line in result.stderr.splitlines() if not line.startswith("WARNING:")]
        raise RuntimeError(
            "Installing the course's packages failed:\n  "
            + " ".join(command)
            + "\n"
            + "\n".join(lines)[-2000:]
        )


def install_missing(tf_version: str) -> list[str]:
    """Install what :func:`plan_install` lists, keeping the runtime's TensorFlow and numpy.

    For a TensorFlow newer than :data:`COMPANIONS` it prints :func:`untested_note` first, and a
    failed install stops with the message for an unknown TensorFlow plus pip's error.
    """
    untested = is_newer_than_known(tf_version)
    if untested:
        print(untested_note(tf_version))
    normal, no_deps = plan_install(tf_version)
    if not normal and not no_deps:
        return []
    keep = {"tensorflow": tf_version, "numpy": installed("numpy")}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{n}=={v}\n" for n, v in keep.items() if v))
        constraints = Path(handle.name)
    try:
        if normal:
            _pip(normal, constraints)
        if no_deps:
            _pip(["--no-deps", *no_deps], constraints)
    except RuntimeError as error:
        if not untested:
            raise
        raise RuntimeError(f"{unknown_version_message(tf_version)}\n{error}") from error
    finally:
        constraints.unlink(missing_ok=True)
    return normal + no_deps


STARTED: float | None = None  # time.monotonic() when setup() last ran (report.notebook_time)


def setup(display: str = "auto", install: bool = True):
    """Prepare this Python for the course, then headless rendering; prints what it did."""
    global STARTED
    STARTED = time.monotonic()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if needs_legacy_keras(tensorflow_version()):
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = Keras 2, before TF loads
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    if is_pinned_environment():
        print(
            "environment: the course's pinned stack (Python 3.11, TensorFlow 2.15); "
            "nothing to install"
        )
    else:
        tf_version = tensorflow_version()
        if tf_version is None:
            raise RuntimeError(
                "TensorFlow is not installed. Locally, use the course's environment "
                "(`make course` or `make lab` from the repository root); in a hosted runtime, "
                "choose one that ships TensorFlow (Colab does)."
            )
        if "tensorflow" in sys.modules and installed("tf-keras") is None:
            print(
                "note: TensorFlow was imported before this cell; if Keras errors follow, "
                "restart the runtime and run this cell first."
            )
        added = install_missing(tf_version) if install else []
        what = ", ".join(added) if added else "nothing missing"
        print(
            f"environment: Python {sys.version.split()[0]}, TensorFlow {tf_version} "
            f"(hosted lane); installed: {what}"
        )

    from utils.infra import runtime

    return runtime.setup(display)
