"""tf.distribute strategies for training: one device, several GPUs, several workers, a TPU.

`auto` picks MultiWorkerMirrored when TF_CONFIG describes a cluster, Mirrored when there is
more than one GPU, and OneDevice otherwise. `--virtual_cpus=N` splits the host CPU into N
logical devices so that Mirrored runs (and is tested) on a machine without GPUs.
"""

from __future__ import annotations

import tensorflow as tf

from keras_resnet.errors import UserError
from keras_resnet.training import cluster as cluster_contract

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
# --tpu values meaning "the TPU attached to this VM", as tensorflow/models' tpu_initialize
# treats them: the resolver finds it, and there is no remote cluster to connect to.
LOCAL_TPU = (None, "", "local")


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


def _mirrored(gpus) -> tf.distribute.Strategy:
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])


def get_strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """Returns the strategy called `name` (one of STRATEGIES)."""
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    cluster = cluster_contract.normalise_environ()  # one line for a malformed TF_CONFIG
    if name == "auto" and cluster is not None:
        name = "multi_worker"
    if name == "multi_worker":
        # Must come before anything initialises the runtime (listing logical devices does).
        if cluster is None:
            raise UserError(
                "--strategy=multi_worker needs TF_CONFIG with a 'cluster' and a 'task'."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if tpu:
            name = "tpu"
        elif len(gpus) > 1 or len(tf.config.list_logical_devices("CPU")) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return _mirrored(gpus)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        if tpu not in LOCAL_TPU:  # a TPU VM's own chips: nothing to connect to
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


def _cluster(strategy: tf.distribute.Strategy):
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    return cluster_contract.from_environ()


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """0 on the chief (or worker 0 without a chief, and in single-worker runs), 1.. elsewhere."""
    cluster = _cluster(strategy)
    return cluster.worker_index if cluster is not None else 0


def worker_workdir(workdir: str, strategy: tf.distribute.Strategy) -> str:
    """The chief writes to `workdir`; other workers to `workdir/worker<k>`, so that their
    backups and files (needed for their own restarts) never collide with the chief's."""
    return cluster_contract.worker_workdir(workdir, _cluster(strategy))


def patch_keras_for_multi_worker(model, strategy, train_ds) -> None:
    """Works around two Keras 3.15 bugs that stop `fit` under MultiWorkerMirroredStrategy.

    1. `fit` first builds metrics and optimizer from one batch reduced across replicas, and
       that reduce fails on the PerReplica batch: build from one local batch instead.
    2. Step logs (scalar metric values, already identical on every replica) are reduced with
       `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars: reduce them with
       axis=None, the same mean without a batch axis.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(train_ds)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None

    original = tf_trainer.reduce_per_replica
    if getattr(original, "patched_for_multi_worker", False):
        return

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.patched_for_multi_worker = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def average_non_trainable(model, strategy) -> None:
    """Averages BN moving statistics over all replicas of all workers.

    Gradients are all-reduced, so the trainable weights match everywhere, but each replica
    updates BN's moving mean and variance from its own share of the batch (as per-GPU BN in
    the paper's Caffe setup does). Averaging them at the end gives every worker the same,
    better-estimated statistics, and the same saved model.
    """
    variables = [v for v in model.non_trainable_variables if "float" in str(v.dtype)]
    if not variables:
        return

    @tf.function
    def averaged():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            return [ctx.all_reduce("MEAN", tf.identity(v.value)) for v in variables]

        return strategy.run(replica_fn)

    for v, value in zip(variables, averaged()):
        v.assign(strategy.experimental_local_results(value)[0])


def worker_consensus(strategy):
    """`consensus(value) -> (min, max)` of an int over every worker, or None when `strategy`
    is not multi-worker. A collective: every worker must call it at the same point of the run.

    Workers decide together where to resume (the oldest step all of them backed up: a kill can
    land between two workers' commits of the same step) and when to stop (a SIGTERM seen by
    any worker stops all of them after the same step, each with its backup)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None

    @tf.function
    def gathered(value):
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            return ctx.all_gather(tf.reshape(value, [1]), axis=0)

        return strategy.experimental_local_results(strategy.run(replica_fn))[0]

    def consensus(value: int) -> tuple[int, int]:
        values = gathered(tf.constant(int(value), tf.int64)).numpy()
        return int(values.min()), int(values.max())

    return consensus
