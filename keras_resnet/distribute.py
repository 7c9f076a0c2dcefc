"""tf.distribute strategies for training: one device, several GPUs, several workers, a TPU.

`auto` picks MultiWorkerMirrored when TF_CONFIG describes a cluster, Mirrored when there is
more than one GPU, and OneDevice otherwise. `--virtual_cpus=N` splits the host CPU into N
logical devices so that Mirrored runs (and is tested) on a machine without GPUs.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_resnet.cli import UserError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def configure_virtual_cpus(n: int) -> None:
    """Splits the first CPU into `n` logical devices; must run before TF touches a device."""
    if n <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:  # the runtime already started: only possible from library use
        raise UserError(f"--virtual_cpus must be set before TensorFlow starts: {e}") from None


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as e:
        raise UserError(f"TF_CONFIG is not valid JSON: {e}") from None


def _mirrored(gpus) -> tf.distribute.Strategy:
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])


def get_strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """Returns the strategy called `name` (one of STRATEGIES)."""
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if _tf_config().get("cluster"):
            name = "multi_worker"
        elif tpu:
            name = "tpu"
        elif len(gpus) > 1 or len(tf.config.list_logical_devices("CPU")) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return _mirrored(gpus)
    if name == "multi_worker":
        if not _tf_config().get("cluster"):
            raise UserError(
                "--strategy=multi_worker needs TF_CONFIG with a 'cluster' and a 'task'."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise UserError(f"cannot reach a TPU at {tpu or '(local)'}: {str(e)[:200]}") from None
    return tf.distribute.TPUStrategy(resolver)


def check_global_batch(batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """Returns the per-replica batch; the global batch must split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(
            f"batch_size {batch_size} does not divide by the {replicas} replicas of "
            f"{type(strategy).__name__}; use a multiple of {replicas}."
        )
    return batch_size // replicas


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """0 on the chief (and in single-worker runs), the worker's task index + 1 elsewhere."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief" or (task_type == "worker" and task_id == 0 and not _has_chief()):
        return 0
    return int(task_id) + (1 if _has_chief() else 0)


def _has_chief() -> bool:
    return "chief" in _tf_config().get("cluster", {})


def worker_workdir(workdir: str, strategy: tf.distribute.Strategy) -> str:
    """The chief writes to `workdir`; other workers to `workdir/worker<k>`, so that their
    backups and files (needed for their own restarts) never collide with the chief's."""
    k = worker_index(strategy)
    return workdir if k == 0 else os.path.join(workdir, f"worker{k}")
