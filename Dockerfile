# The action's image. CI and the tests build it with a local base image:
#   scripts/build-image.sh   (passes --build-arg BASE_IMAGE=localhost/...)
ARG BASE_IMAGE=python:3.14-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# git: the gates read the repository and the local transport deploys from it.
# hadolint ignore=DL3008
RUN if ! command -v git >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends git \
      && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /action
COPY requirements.txt /action/requirements.txt
RUN python -m pip install -r /action/requirements.txt

# The gate tools (flake8, pylint, bandit, pip-audit, safety, uv) in their own environment:
# installed once here, never at run time; the project's code runs in a venv of its own.
# uv reads the system's certificates, like pip does.
COPY requirements-tools.txt /action/requirements-tools.txt
RUN python -m venv /opt/tools \
    && /opt/tools/bin/python -m pip install -r /action/requirements-tools.txt
ENV UV_SYSTEM_CERTS=1

# The code lives in /action: the runner mounts the workspace over the workdir.
COPY action.yml entrypoint.py post_entrypoint.py /action/
COPY ssm_action /action/ssm_action
# Both entrypoints start without the PATH: a runner may pass its own (act, act_runner do).
# Their shebang becomes the absolute path of the interpreter that holds the requirements
# (/usr/local/bin/python, or a venv's python, which a symlink would not activate).
RUN sed -i "1s|^#!.*|#!$(command -v python)|" /action/entrypoint.py /action/post_entrypoint.py
ENTRYPOINT ["/action/entrypoint.py"]
