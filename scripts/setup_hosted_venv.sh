#!/usr/bin/env bash
# Prepare the hosted-runtime stand-in for `make test LANE=colab`:
#   scripts/setup_hosted_venv.sh [PYTHON] [VENV_DIR]
# Creates VENV_DIR (default .venv-colab) with Python 3.12 and requirements-hosted.txt
# (TensorFlow, numpy, matplotlib, Jupyter kernel, nbval) if it is missing, then removes
# anything the notebooks' setup cell installs, so that every run exercises that install path.
set -euo pipefail

PYTHON=${1:-python3.12}
VENV=${2:-.venv-colab}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

runs() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; }
if ! runs "$PYTHON"; then
    # pyenv installs Pythons it does not put on the PATH
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
        if runs "$candidate"; then PYTHON=$candidate; break; fi
    done
fi
if ! runs "$PYTHON"; then
    echo "error: no working Python 3.12 found (tried '$1' and pyenv's versions). The hosted" >&2
    echo "       lane mimics Colab's Python 3.12: install it, or pass PYTHON312=/path/to/python3.12" >&2
    exit 2
fi

if [ ! -x "$VENV/bin/python" ] || ! runs "$VENV/bin/python"; then
    rm -rf "$VENV"
    echo "Creating $VENV with $PYTHON (a stand-in for a hosted runtime) ..."
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements-hosted.txt"

# Back to a bare hosted runtime: remove what the setup cell adds (and its helpers' cache).
added=$(sed -e 's/#.*//' -e 's/==.*//' "$ROOT/requirements-colab.txt" | tr -s ' \n' ' ')
"$VENV/bin/python" -m pip uninstall --quiet --yes $added tf-keras tensorflow-probability \
    tensorboard >/dev/null 2>&1 || true
echo "Ready: $VENV ($("$VENV/bin/python" --version), $("$VENV/bin/python" -c \
    'from importlib.metadata import version; print("TensorFlow", version("tensorflow"))'))"
