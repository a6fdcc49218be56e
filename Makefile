# The course's commands. `make help` lists them.
#   LANE=pinned (default): Python 3.11 and the hashed lock file requirements.txt, Reverb included.
#   LANE=colab: a stand-in for Colab's default runtime (Python 3.13, TensorFlow 2.20, its gym
#               and gymnasium; requirements-hosted.txt, made from Colab's published package
#               list), to which the notebooks' own setup cell adds what they need (make test).
#   LANE=colab312: the same for Colab's older Python 3.12 runtime (requirements-hosted-3.12.txt),
#               a quick check: the setup notebook and one training notebook (make test).
LANE   ?= pinned
PYTHON ?= python3.11
PYTHON_HOSTED ?=
ifeq ($(LANE),colab)
VENV   ?= .venv-colab
HOSTED := requirements-hosted.txt
else ifeq ($(LANE),colab312)
VENV   ?= .venv-colab312
HOSTED := requirements-hosted-3.12.txt
else ifeq ($(LANE),pinned)
VENV   ?= .venv
else
$(error LANE must be pinned, colab or colab312, not '$(LANE)')
endif
BIN    := $(VENV)/bin
ifeq ($(LANE),pinned)
STAMP  := $(VENV)/.installed
else
STAMP  := pinned-lane-only
endif
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
QUICK_NOTEBOOKS := notebooks/00_rl_basics.ipynb notebooks/03_dqn_tf_agents.ipynb
PYTEST_FLAGS ?=

export GPU ?= 0
export TF_CPP_MIN_LOG_LEVEL ?= 3
export SDL_AUDIODRIVER ?= dummy
export PYDEVD_DISABLE_FILE_VALIDATION = 1

.PHONY: pinned-lane-only help venv course test lint unit notebooks lab export strip hooks lock colab-pins docker-check clean distclean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

ifneq ($(LANE),pinned)
$(STAMP):
	@echo "'make $(MAKECMDGOALS)' uses the pinned lane; with LANE=$(LANE) only 'make test' runs." >&2
	@exit 2
else
$(STAMP): requirements.txt pyproject.toml scripts/setup_venv.sh
	scripts/setup_venv.sh $(PYTHON) $(VENV)
endif

venv: $(STAMP)  ## create or refresh .venv with the pinned stack

course: $(STAMP)  ## run every notebook headless; outputs, plots and videos go to build/
	$(BIN)/python scripts/run_course.py $(NOTEBOOKS)

ifeq ($(LANE),colab)
test:  ## ruff, unit tests, hygiene, every notebook under nbval (LANE=colab: notebooks; colab312: 00, 03)
	scripts/setup_hosted_venv.sh $(HOSTED) $(VENV) $(PYTHON_HOSTED)
	$(BIN)/python -m pytest $(NOTEBOOKS) --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 -v $(PYTEST_FLAGS)
else ifeq ($(LANE),colab312)
test:
	scripts/setup_hosted_venv.sh $(HOSTED) $(VENV) $(PYTHON_HOSTED)
	$(BIN)/python -m pytest $(QUICK_NOTEBOOKS) --nbval-lax --nbval-current-env \
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

# Colab's runtime as it publishes it: FREEZE and OS_INFO are copies of pip-freeze.txt and
# os-info.txt from github.com/googlecolab/backend-info, SOURCE says which (commit, date).
colab-pins:  ## refresh requirements-hosted.txt from a copy of Colab's package list
	@test -n "$(FREEZE)" -a -n "$(OS_INFO)" -a -n "$(SOURCE)" || { echo "usage: make colab-pins FREEZE=pip-freeze.txt OS_INFO=os-info.txt SOURCE='googlecolab/backend-info at COMMIT (DATE)' [OUT=requirements-hosted.txt]" >&2; exit 2; }
	python3 scripts/colab_runtime.py "$(FREEZE)" "$(OS_INFO)" --source "$(SOURCE)" -o $(or $(OUT),requirements-hosted.txt)

docker-check: $(STAMP)  ## build the Docker image (buildah) and smoke-test it
	scripts/docker_check.sh

clean:  ## remove build outputs and caches (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv*' -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV)
