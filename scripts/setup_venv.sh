#!/usr/bin/env bash
# Create (or refresh) the course's virtual environment with the pinned stack.
#   scripts/setup_venv.sh [PYTHON] [VENV_DIR]
# PYTHON defaults to python3.11 (the newest Python that Reverb supports); VENV_DIR to .venv.
# The venv is rebuilt from scratch when its Python differs from PYTHON; otherwise pip brings
# it in line with requirements.txt (a hashed lock file) and the course package is installed
# in editable mode so that notebooks can `import utils`.
# With GPU=1, TensorFlow's CUDA libraries are added (tensorflow[and-cuda] at the pinned
# version, from NVIDIA's pip packages; these are not in the hashed lock file).
set -euo pipefail

PYTHON=${1:-python3.11}
VENV=${2:-.venv}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: '$PYTHON' not found. The pinned course needs Python 3.11 (Reverb has no wheels" >&2
    echo "       for newer Pythons). Install it (Debian/Ubuntu: apt-get install python3.11" >&2
    echo "       python3.11-venv; or pyenv install 3.11), or point to it: make PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if ! want=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    echo "error: '$PYTHON' is on the PATH but does not run (a pyenv shim for an inactive" >&2
    echo "       version?). The pinned course needs Python 3.11: make PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ "$want" != "3.11" ]; then
    echo "error: $PYTHON is Python $want; the pinned stack needs 3.11 (see README, 'Two lanes')." >&2
    exit 2
fi

if [ -x "$VENV/bin/python" ]; then
    have=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' || echo none)
    if [ "$have" != "$want" ]; then
        echo "Rebuilding $VENV: it has Python $have, expected $want."
        rm -rf "$VENV"
    fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV with $PYTHON ..."
    "$PYTHON" -m venv "$VENV"
fi

echo "Installing the pinned stack from requirements.txt (about 1-3 minutes, ~2.3 GB) ..."
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$ROOT/requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation -e "$ROOT"
if [ "${GPU:-0}" = "1" ]; then
    tf=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("tensorflow"))')
    echo "Adding TensorFlow $tf's CUDA libraries (GPU=1) ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "tensorflow[and-cuda]==$tf"
fi
"$VENV/bin/python" -m pip check
touch "$VENV/.installed"
echo "Ready: $VENV ($("$VENV/bin/python" --version))"
