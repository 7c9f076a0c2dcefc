"""TensorFlow's two thread pools for serving, sized from the CPUs the server may use.

tensorflow_model_server's `--tensorflow_intra_op_parallelism` (threads one op may split over:
oneDNN's convolutions, nearly all of a ResNet's time) and `--tensorflow_inter_op_parallelism`
(ops run at once) default to 0, which TensorFlow reads as "every core of the machine". In a
pod, or under `docker run --cpus`, that is the node's cores, not the share the container gets:
oneDNN then splits each convolution over more threads than the container has cores for, each
piece waits for the slowest, and a container with a CPU limit is throttled in mid-call. So the launcher (keras-resnet-serve) and
the manifests (deploy/inference.py) pass both flags, sized here; the embedded server applies
the same flags with `tf.config.threading` before it loads a model.

The rule: intra = the CPUs available (whole cores, at least 1); inter = 2 where there are 2 or
more, so that independent ops can overlap: in bench/profile-vm.md a batch-1 call's ops add up
to more than its wall time on 2 threads (ResNet-50's projection shortcuts run beside their
block's first convolution).
"""

from __future__ import annotations

import logging
import math
import os

logger = logging.getLogger(__name__)

INTRA, INTER = "tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism"


def pool_sizes(cpus: float) -> dict[str, int]:
    """{flag name: threads} for a server with `cpus` CPUs (a pod's request may be fractional)."""
    intra = max(1, math.floor(cpus))
    return {INTRA: intra, INTER: min(2, intra)}


def flags(cpus: float) -> list[str]:
    return [f"--{name}={value}" for name, value in pool_sizes(cpus).items()]


def available_cpus() -> float:
    """The CPUs this process may use: its cgroup's CPU quota (cgroup v2 `cpu.max`, as Docker's
    --cpus and Kubernetes' CPU limits set it) where there is one, else its affinity mask."""
    cpus = float(len(os.sched_getaffinity(0)))
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable: the affinity mask is the bound
    return cpus


def apply(intra: int, inter: int) -> tuple[int, int]:
    """Sets TensorFlow's pools (0 leaves TensorFlow's default) before anything runs; returns
    the sizes in effect. Where TensorFlow already ran in this process (a server started inside
    a test or a notebook) the pools cannot change any more: it says so and keeps them."""
    import tensorflow as tf

    threading = tf.config.threading
    try:
        if intra:
            threading.set_intra_op_parallelism_threads(intra)
        if inter:
            threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        logger.warning(
            "TensorFlow already ran in this process: its thread pools stay as they are "
            "(asked for intra-op %d, inter-op %d)",
            intra,
            inter,
        )
    sizes = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    logger.info("TensorFlow thread pools: intra-op %d, inter-op %d (0 = its default)", *sizes)
    return sizes
