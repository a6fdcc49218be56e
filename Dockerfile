# The course's pinned environment (Python 3.11, TensorFlow 2.15, TF-Agents 0.19, Reverb) with
# JupyterLab serving the notebooks.
#
#   docker build -t tf-rl-course .
#   docker run --rm -p 8888:8888 tf-rl-course
#
# then open the http://127.0.0.1:8888/lab?token=... address that JupyterLab prints in the log.
# Token authentication stays on; to choose the token yourself, pass
# `-e JUPYTER_TOKEN=<a long random string>`.

# Debian 12's python3 is Python 3.11, the newest Python that Reverb publishes wheels for.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive

# python3-venv: the virtual environment and its pip; xvfb: a virtual display for rendering;
# ffmpeg: video encoding from the command line; tini: reaps the notebook kernels' processes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        ffmpeg \
        git \
        make \
        python3 \
        python3-venv \
        tini \
        xvfb \
    && rm -rf /var/lib/apt/lists/*

# The user's numeric id; match it to yours when you mount a folder of your own.
ARG NB_UID=1000
ENV COURSE_HOME=/home/learner/course \
    VIRTUAL_ENV=/opt/venv
ENV PATH=${VIRTUAL_ENV}/bin:${PATH} \
    SDL_AUDIODRIVER=dummy \
    TF_CPP_MIN_LOG_LEVEL=3 \
    PYTHONUNBUFFERED=1

# The virtual environment belongs to the unprivileged user, so that the install below runs
# without root and learners can add packages of their own.
RUN useradd --create-home --uid "${NB_UID}" --shell /bin/bash learner \
    && install -d -o learner -g learner "${VIRTUAL_ENV}" "${COURSE_HOME}"

USER ${NB_UID}
WORKDIR ${COURSE_HOME}

# Dependencies first, with the same script as `make` (the hashed lock file, then the course
# package in editable mode). An editable install only records where the package lives, so an
# empty placeholder stands in for utils/ here: editing the course does not reinstall the stack.
COPY --chown=learner:learner requirements.txt pyproject.toml ./
COPY --chown=learner:learner scripts/setup_venv.sh scripts/
RUN mkdir utils \
    && touch utils/__init__.py \
    && PIP_NO_CACHE_DIR=1 scripts/setup_venv.sh python3 "${VIRTUAL_ENV}"

COPY --chown=learner:learner . .

# One command per role of notebook 12's distributed DQN (each runs
# `scripts/distributed_dqn.py --role ROLE` with the options given), e.g.
#   docker run --rm -p 8000:8000 tf-rl-course rl-server --port 8000
#   docker run --rm tf-rl-course rl-actor --server HOST:8000 --index 0
# and rl-launch, which starts every role in one container (scripts/launch_distributed.py).
RUN for role in server actor learner evaluator; do \
        printf '#!/bin/sh\nexec python "%s/scripts/distributed_dqn.py" --role %s "$@"\n' \
            "${COURSE_HOME}" "${role}" >"${VIRTUAL_ENV}/bin/rl-${role}"; \
    done \
    && printf '#!/bin/sh\nexec python "%s/scripts/launch_distributed.py" "$@"\n' "${COURSE_HOME}" \
        >"${VIRTUAL_ENV}/bin/rl-launch" \
    && chmod +x "${VIRTUAL_ENV}"/bin/rl-*

# `make course`, `make test` and friends use the environment installed above.
ENV VENV=${VIRTUAL_ENV}

EXPOSE 8888

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=4)"]

# No token or password is set here: JupyterLab generates a random token and prints it.
ENTRYPOINT ["tini", "-g", "--"]
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/home/learner/course/notebooks"]
