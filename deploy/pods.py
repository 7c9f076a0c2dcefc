"""What every file in deploy/ shares: the pinned images, the placeholders a user replaces, the
training command, and the locked-down pod and container settings.

Placeholders are upper-case words a user substitutes before applying a file (`BUCKET`) or plain
example names (`registry.example.com`); docs/clusters.md lists them.
"""

from __future__ import annotations

import os
import re

from keras_resnet.serving.tools import launch

SERVING_IMAGE = launch.DEFAULT_IMAGE  # the project's one tensorflow/serving pin
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "gs://BUCKET"
MODEL = "resnet50"
WORKDIR = f"{BUCKET}/runs/{MODEL}"
DATA_DIR = f"{BUCKET}/tensorflow_datasets"  # TFDS data prepared once, read by every worker
EXPORT_DIR = f"{BUCKET}/models/{MODEL}"  # keras-resnet-export's --export_dir (versions below)
TRAIN_REPOSITORY = "registry.example.com/keras-resnet-train"
TRAIN_CONSOLE_SCRIPT = "keras-resnet-train"
CLUSTER_CONSOLE_SCRIPT = "keras-resnet-cluster"
PYTHON_VERSION = "3.11"  # the training image's base, python:<this>-slim
TF_PORT = 2222  # the gRPC port TFJob and our headless Service give each worker
GRPC_PORT, REST_PORT = 8500, 8501  # tensorflow_model_server's defaults
RUN_AS = 1000  # the training image's user (deploy/Dockerfile); TF Serving runs as the same id


def project_version() -> str:
    """The package version in pyproject.toml: the training image's tag."""
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        return re.search(r'^version = "([^"]+)"$', f.read(), re.M).group(1)


def train_image(variant: str = "") -> str:
    """The training image, tagged with the package version; `variant` is a build of it for an
    accelerator (docs/clusters.md: `-gpu` adds tensorflow[and-cuda])."""
    return f"{TRAIN_REPOSITORY}:{project_version()}{f'-{variant}' if variant else ''}"


def train_args(strategy: str, *extra: str, workdir: str | None = WORKDIR) -> list[str]:
    """keras-resnet-train's flags for the paper's ResNet-50 recipe on data in the bucket.
    `workdir=None` leaves --workdir to the platform (Vertex's AIP_CHECKPOINT_DIR)."""
    args = [f"--model={MODEL}", f"--strategy={strategy}", *extra]
    if workdir:
        args.insert(1, f"--workdir={workdir}")
    return [*args, f"--config.data.data_dir={DATA_DIR}"]


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "keras-resnet", "app.kubernetes.io/component": component}


def metadata(name: str, component: str) -> dict:
    return {"name": name, "labels": labels(component)}


def container_security() -> dict:
    """No root, no privilege escalation, no capabilities, nothing written outside volumes."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


# The root filesystem is read-only: TensorFlow, Keras and TFDS write their caches and temporary
# files under /tmp, an emptyDir, and HOME points there for anything that writes to ~.
SCRATCH_VOLUME = {"name": "scratch", "emptyDir": {}}
SCRATCH_MOUNT = {"name": "scratch", "mountPath": "/tmp"}
SCRATCH_ENV = [
    {"name": "HOME", "value": "/tmp"},
    {"name": "KERAS_HOME", "value": "/tmp/keras"},
    {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"},
]


def train_container(name: str, image: str, args: list[str], resources: dict, **more) -> dict:
    """A training container: the image's entrypoint (keras-resnet-train) unless `command=`."""
    container = {"name": name, "image": image, **more, "args": args}
    container.update(
        env=SCRATCH_ENV + container.pop("env", []),
        resources=resources,
        securityContext=container_security(),
        volumeMounts=[SCRATCH_MOUNT],
    )
    return container


def train_pod(container: dict, **more) -> dict:
    """A training pod spec. restartPolicy Never: the job (TFJob or Job) restarts the pod, by
    its exit code (docs/clusters.md), not the kubelet."""
    return {
        "restartPolicy": "Never",
        **more,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [SCRATCH_VOLUME],
    }


def gpu_resources(gpus: int) -> dict:
    return {
        "requests": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": gpus},
        "limits": {"memory": "32Gi", "nvidia.com/gpu": gpus},
    }
