# The course's commands. `make help` lists them.
#   LANE=pinned (default): Python 3.11 and the hashed lock file requirements.txt, Reverb included.
#   LANE=colab: a stand-in for a hosted runtime (Python 3.12, TensorFlow 2.21, no Reverb), to
#               which the notebooks' own setup cell adds what they need (make test only).
LANE   ?= pinned
PYTHON ?= python3.11
PYTHON312 ?= python3.12
ifeq ($(LANE),colab)
VENV   ?= .venv-colab
else ifeq ($(LANE),pinned)
VENV   ?= .venv
else
$(error LANE must be pinned or colab, not '$(LANE)')
endif
BIN    := $(VENV)/bin
ifeq ($(LANE),colab)
STAMP  := pinned-lane-only
else
STAMP  := $(VENV)/.installed
endif
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_FLAGS ?=

export GPU ?= 0
export TF_CPP_MIN_LOG_LEVEL ?= 3
export SDL_AUDIODRIVER ?= dummy
export PYDEVD_DISABLE_FILE_VALIDATION = 1

.PHONY: pinned-lane-only help venv course test lint unit notebooks lab export strip hooks lock docker-check clean distclean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

ifeq ($(LANE),colab)
$(STAMP):
	@echo "'make $(MAKECMDGOALS)' uses the pinned lane; with LANE=colab only 'make test' runs." >&2
	@exit 2
else
$(STAMP): requirements.txt pyproject.toml scripts/setup_venv.sh
	scripts/setup_venv.sh $(PYTHON) $(VENV)
endif

venv: $(STAMP)  ## create or refresh .venv with the pinned stack

course: $(STAMP)  ## run every notebook headless; outputs, plots and videos go to build/
	$(BIN)/python scripts/run_course.py $(NOTEBOOKS)

ifeq ($(LANE),colab)
test:  ## ruff, unit tests, notebook hygiene, every notebook under nbval (LANE=colab: notebooks)
	scripts/setup_hosted_venv.sh $(PYTHON312) $(VENV)
	$(BIN)/python -m pytest $(NOTEBOOKS) --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 -v $(PYTEST_FLAGS)
else
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check utils tests scripts benchmarks
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 -v $(PYTEST_FLAGS)
endif

lint: $(STAMP)  ## ruff and hadolint only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check utils tests scripts benchmarks
	$(BIN)/hadolint Dockerfile

unit: $(STAMP)  ## unit and hygiene tests only (fast)
	$(BIN)/python -m pytest tests $(PYTEST_FLAGS)

lab: $(STAMP)  ## JupyterLab on the course notebooks, with the course's Python
	$(BIN)/jupyter lab --notebook-dir=notebooks

export:  ## copy the notebooks' #@save cells into their modules in utils/
	python3 scripts/export_notebooks.py

strip: $(STAMP)  ## remove outputs and execution counts from the notebooks
	$(BIN)/python scripts/strip_notebooks.py $(NOTEBOOKS)

hooks:  ## install a git pre-commit hook that refuses notebooks with outputs
	printf '#!/bin/sh\nexec python3 %s/scripts/strip_notebooks.py --check $$(git diff --cached --name-only --diff-filter=ACM -- "*.ipynb")\n' "$$(pwd)" > .git/hooks/pre-commit
	chmod +x .git/hooks/pre-commit
	@echo "pre-commit hook installed: commits with notebook outputs are refused (fix: make strip)"

lock:  ## regenerate the hashed requirements.txt from requirements.in
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in

docker-check: $(STAMP)  ## build the Docker image (buildah) and smoke-test it
	scripts/docker_check.sh

clean:  ## remove build outputs and caches (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv*' -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV)
