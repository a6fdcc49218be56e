"""Runtime setup: quiet TensorFlow logs, headless rendering, installed versions and devices.

Taught in notebook 00; every notebook calls :func:`setup` in its setup cell, before it
imports TensorFlow.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import shutil
import sys
import threading
from dataclasses import dataclass

from utils.bootstrap import installed
from utils.infra.report import in_notebook_kernel

DISPLAY_MODES = ("auto", "xvfb", "dummy", "existing")

# The virtual display started by setup_display(), kept so a second call reuses it.
_virtual_display = None
_display_choice: str | None = None


@dataclass(frozen=True)
class DisplayChoice:
    """What :func:`setup_display` chose and why."""

    mode: str
    detail: str

    def __str__(self) -> str:
        return f"rendering: {self.mode} ({self.detail})"


class LazyModule:
    """Stands for a module and imports it at its first use, e.g. TensorFlow after the setup."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported at first use>"


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def xvfb_available() -> bool:
    """True when an ``Xvfb`` binary is on the PATH."""
    return shutil.which("Xvfb") is not None


def _use_sdl_dummy() -> None:
    # pygame (gym's CartPole renderer) opens a display even for rgb_array frames; SDL's
    # dummy drivers let it draw off-screen with no X server at all.
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ["SDL_AUDIODRIVER"] = "dummy"


def setup_display(mode: str = "auto") -> DisplayChoice:
    """Make rendering work headless; safe to call more than once.

    ``auto``: keep an existing X display, else start a virtual one when ``Xvfb`` is installed,
    else use SDL's dummy video driver. ``xvfb`` insists on a virtual display, ``dummy`` on the
    dummy driver, ``existing`` on the display named by ``$DISPLAY``.
    """
    global _virtual_display, _display_choice
    if mode not in DISPLAY_MODES:
        raise ValueError(f"mode must be one of {', '.join(DISPLAY_MODES)}; got {mode!r}.")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

    if _virtual_display is not None and mode in ("auto", "xvfb"):
        return DisplayChoice("xvfb", f"virtual display {os.environ.get('DISPLAY')} already running")

    if mode == "existing" or (mode == "auto" and os.environ.get("DISPLAY")):
        if not os.environ.get("DISPLAY"):
            raise RuntimeError(
                "No X display: $DISPLAY is not set. Use setup_display('auto') to render "
                "headless instead."
            )
        return DisplayChoice("existing", f"X display {os.environ['DISPLAY']}")

    if mode == "xvfb" or (mode == "auto" and xvfb_available()):
        if not xvfb_available():
            raise RuntimeError(
                "Xvfb is not installed, so no virtual display can be started. Install it "
                "(Debian/Ubuntu: sudo apt-get install xvfb) or call setup_display('dummy') to "
                "render with SDL's dummy driver, which needs no display."
            )
        from pyvirtualdisplay import Display

        _virtual_display = Display(visible=False, size=(1400, 900))
        _virtual_display.start()
        os.environ.pop("SDL_VIDEODRIVER", None)
        return DisplayChoice("xvfb", f"virtual display {os.environ.get('DISPLAY')} via Xvfb")

    _use_sdl_dummy()
    return DisplayChoice("dummy", "no X display and no Xvfb: SDL draws off-screen")


def stop_display() -> None:
    """Stop the virtual display started by :func:`setup_display`, if any."""
    global _virtual_display
    if _virtual_display is not None:
        _virtual_display.stop()
        _virtual_display = None


def quiet_tensorflow() -> bool:
    """Silence TensorFlow's C++ log lines; returns False if TensorFlow was already imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return "tensorflow" in sys.modules


# Lines that Reverb's C++ code writes to the process's stderr during normal operation: a
# server starting and stopping, a sampler in the server's own process, and the writer's note
# that items wait for confirmation (in-process servers confirm in batches). Nothing to act on.
BENIGN_NATIVE_LINES = (
    b"Initializing TFRecordCheckpointer",
    b"Loading latest checkpoint from",
    b"Started replay server on port",
    b"Shutting down replay server",
    b"are owned by the same process",
    b"pending items is alarmingly high",
    b"Stored checkpoint to",  # a Reverb table saved by a checkpoint (notebook 11)
)
_native_filter: threading.Thread | None = None


def filter_native_lines(lines: list[bytes], benign=BENIGN_NATIVE_LINES) -> list[bytes]:
    """The lines to keep: every line that contains none of the ``benign`` patterns."""
    return [line for line in lines if not any(pattern in line for pattern in benign)]


def quiet_native_logs() -> bool:
    """In a notebook kernel, drop Reverb's routine C++ log lines; True if the filter runs.

    Jupyter shows what native code writes to file descriptor 2. This puts a pipe in its place
    and a thread that forwards every line except :data:`BENIGN_NATIVE_LINES`. Only in a
    kernel, where Python's own ``sys.stderr`` does not use descriptor 2 (in a terminal it does,
    and progress bars would wait for a newline).
    """
    global _native_filter
    if _native_filter is not None:
        return True
    if not in_notebook_kernel():
        return False
    read_end, write_end = os.pipe()
    forward_to = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = filter_native_lines(lines)
            if kept:
                os.write(forward_to, b"\n".join(kept) + b"\n")
        if pending:
            os.write(forward_to, pending)

    _native_filter = threading.Thread(target=pump, name="native-log-filter", daemon=True)
    _native_filter.start()
    return True


class _LibraryDeprecations(logging.Filter):
    """Drops TensorFlow's deprecation notices about calls made inside installed libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        inside_library = "site-packages" in message or "dist-packages" in message
        return not (message.startswith("From ") and "deprecated" in message and inside_library)


def quiet_library_deprecations() -> None:
    """Hide deprecation notices that TF-Agents triggers inside TensorFlow (not the learner's)."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _LibraryDeprecations) for f in logger.filters):
        logger.addFilter(_LibraryDeprecations())


def setup(display: str = "auto") -> DisplayChoice:
    """The one call in every notebook's setup cell: quiet logs and headless rendering."""
    late = quiet_tensorflow()
    quiet_native_logs()
    quiet_library_deprecations()
    choice = setup_display(display)
    print(choice)
    if late:
        print("note: TensorFlow was imported before setup(); its C++ log lines stay on.")
    return choice


def versions() -> dict[str, str]:
    """Versions of Python and the course's main packages ('not installed' when absent)."""
    names = {
        "tensorflow": "tensorflow",
        "tf-agents": "tf-agents",
        "reverb": "dm-reverb",
        "gym": "gym",
        "tensorflow-probability": "tensorflow-probability",
        "numpy": "numpy",
        "imageio-ffmpeg": "imageio-ffmpeg",
    }
    found = {"python": platform.python_version()}
    for label, dist in names.items():
        found[label] = installed(dist) or "not installed"
    if found["tensorflow"] == "not installed":
        # Hosted runtimes sometimes ship TensorFlow under another distribution name.
        found["tensorflow"] = installed("tensorflow-cpu") or "not installed"
    return found


def device_report() -> dict[str, object]:
    """Devices TensorFlow sees, and where a small matrix product actually ran."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_physical_devices("CPU")
    a = tf.random.uniform((256, 256))
    product = tf.matmul(a, a)
    return {
        "cpus": [d.name for d in cpus],
        "gpus": [d.name for d in gpus],
        "matmul_ran_on": product.device,
        "built_with_cuda": tf.test.is_built_with_cuda(),
    }
