"""The training image: deploy/Dockerfile and the context filter beside it.

Built from the repository root: `docker build -f deploy/Dockerfile -t IMAGE .` (BuildKit reads
deploy/Dockerfile.dockerignore for a Dockerfile at that path). `--build-arg TF_EXTRA=[and-cuda]`
builds the `-gpu` variant the GPU jobs name: TensorFlow with its CUDA libraries.
"""

from __future__ import annotations

from deploy import pods

# What the image copies from the repository, in build order: the lock first, so the long
# dependency layer is rebuilt only when the lock changes.
LOCK = "requirements.txt"
SOURCES = ("pyproject.toml", "README.md", "keras_resnet", "serving")


def dockerfile(header: str) -> str:
    copies = "\n".join(
        f"COPY {path}/ {path}/" if "." not in path else f"COPY {path} ./" for path in SOURCES
    )
    return f"""{header}FROM python:{pods.PYTHON_VERSION}-slim

ARG TF_EXTRA=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/keras_resnet

# The exact, tested version of every runtime dependency (the lock); as a constraint it also
# holds TensorFlow at the locked release when TF_EXTRA adds its CUDA libraries.
COPY {LOCK} ./
RUN pip install -c {LOCK} -r {LOCK} "tensorflow${{TF_EXTRA}}"

# The package itself; its dependencies are already there, at the lock's versions.
{copies}
RUN pip install --no-deps . && rm -rf build

# Not root. Pods run with a read-only root filesystem and an emptyDir on /tmp, hence HOME.
RUN useradd --uid {pods.RUN_AS} --user-group --home-dir /tmp --no-create-home \\
        --shell /usr/sbin/nologin trainer
USER {pods.RUN_AS}:{pods.RUN_AS}
ENV HOME=/tmp
WORKDIR /tmp
ENTRYPOINT ["{pods.TRAIN_CONSOLE_SCRIPT}"]
"""


def dockerignore(header: str) -> str:
    """Everything but what the Dockerfile copies stays out of the build context (.venv, runs)."""
    keep = "\n".join(f"!{path}" for path in (LOCK, *SOURCES))
    return f"{header}*\n{keep}\n**/__pycache__\n**/*.pyc\n"
