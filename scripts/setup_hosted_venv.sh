#!/usr/bin/env bash
# Prepare a stand-in for Colab's runtime for the hosted test lanes:
#   scripts/setup_hosted_venv.sh REQUIREMENTS [VENV_DIR] [PYTHON]
# REQUIREMENTS is requirements-hosted.txt (Colab's default runtime) or
# requirements-hosted-3.12.txt (its older Python 3.12 runtime); its '# python: X.Y' line says
# which Python. Creates VENV_DIR (default .venv-colab) with that Python if it is missing and
# installs Colab's versions of what the course touches, which also undoes what the notebooks'
# setup cell changed last time (e.g. Colab's gym 0.25); then removes what Colab lacks and the
# setup cell adds (requirements-colab.txt), so that every run exercises that install path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQUIREMENTS=${1:?usage: setup_hosted_venv.sh REQUIREMENTS [VENV_DIR] [PYTHON]}
VENV=${2:-.venv-colab}
WANT=$(sed -n 's/^# python: \([0-9.]*\).*/\1/p' "$REQUIREMENTS")
PYTHON=${3:-python$WANT}
if [ -z "$WANT" ]; then
    echo "error: $REQUIREMENTS has no '# python: X.Y' line (make it with scripts/colab_runtime.py)" >&2
    exit 2
fi

runs() { "$1" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$WANT'" >/dev/null 2>&1; }
if ! runs "$PYTHON"; then
    # pyenv installs Pythons it does not put on the PATH
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$WANT"*/bin/python"$WANT"; do
        if runs "$candidate"; then PYTHON=$candidate; break; fi
    done
fi
if ! runs "$PYTHON"; then
    echo "error: no working Python $WANT found (tried '$PYTHON' and pyenv's versions). This lane" >&2
    echo "       mimics Colab's Python $WANT runtime: install it, or pass its path" >&2
    echo "       (make test LANE=... PYTHON_HOSTED=/path/to/python$WANT)" >&2
    exit 2
fi

if [ ! -x "$VENV/bin/python" ] || ! runs "$VENV/bin/python"; then
    rm -rf "$VENV"
    echo "Creating $VENV with $PYTHON (a stand-in for Colab's Python $WANT runtime) ..."
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"

# Back to a bare runtime: remove what the setup cell adds and Colab does not ship.
normal() { sed -e 's/#.*//' -e 's/==.*//' "$1" | tr 'A-Z_.' 'a-z--' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u; }
added=$(comm -23 <(normal "$ROOT/requirements-colab.txt") <(normal "$REQUIREMENTS"))
if [ -n "$added" ]; then
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip uninstall --quiet --yes $added >/dev/null 2>&1 || true
fi
echo "Ready: $VENV ($("$VENV/bin/python" --version), $("$VENV/bin/python" -c \
    'from importlib.metadata import version as v; print("TensorFlow", v("tensorflow"), "gym", v("gym"))'))"
