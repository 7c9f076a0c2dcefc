"""`train_and_evaluate(config, workdir)`: the paper's recipes with Keras `fit`.

Order matters for the guarantees: the config and the dataset are checked before anything is
written, so a refused or impossible run leaves the workdir as it was; the optimizer's iteration
counter (restored from the step-level backup) drives the epochs and the learning rate, so a
SIGKILL anywhere costs at most `backup_every_steps` steps, and SIGTERM or Ctrl-C none.

Faults (tests/test_faults.py and friends): every file is written to a temporary name and
renamed; backups keep two verified generations and fall back to the older one if the newer is
corrupt; a full disk stops the run with one line naming the file and the last good backup.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import time

import keras
import tensorflow as tf

from keras_resnet import data, machine, progress
from keras_resnet.configs import base
from keras_resnet.errors import UserError
from keras_resnet.models import registry
from keras_resnet.models.fused_bn import use_fused_batchnorm
from keras_resnet.models.remat import use_remat
from keras_resnet.models.resnet import create_model
from keras_resnet.storage import atomic, files
from keras_resnet.training import backups, distribute, inputs, interrupts, recording, transfer
from keras_resnet.training import callbacks as cb
from keras_resnet.training import workdir as wd

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Plan:
    """The values a run derives from its config and data, computed once (`plan`)."""

    total_steps: int
    epochs: int
    base_lr: float  # learning_rate scaled to the global batch


def validate(config) -> registry.ModelSpec:
    """Checks the config without touching data or disk; returns the model's spec."""
    try:
        spec = registry.get_spec(config.model)
    except ValueError as e:
        raise UserError(str(e)) from None
    for key, allowed in base.CHOICES.items():
        if config[key] not in allowed:
            raise UserError(f"config.{key}={config[key]!r}; choose one of {', '.join(allowed)}.")
    if config.remat != "none" and not config.fused_batchnorm:
        raise UserError(f"config.remat={config.remat!r} needs config.fused_batchnorm=True.")
    if not 0 < config.scale <= 1:
        raise UserError(f"config.scale must be in (0, 1], got {config.scale}.")
    if config.batch_size < 1:
        raise UserError(f"config.batch_size must be positive, got {config.batch_size}.")
    if config.lr_schedule == "plateau" and not config.data.val_split > 0:
        # Without a held-out split the per-epoch "val" error is the test set's: dividing the
        # rate on it would tune the run on the numbers it then reports.
        raise UserError(
            f"config.lr_schedule='plateau' needs held-out training images for its plateau "
            f"signal, got config.data.val_split={config.data.val_split}; set "
            "--config.data.val_split=N (the ImageNet plateau recipe holds out 50000)."
        )
    if not (config.num_epochs or config.train_steps):
        raise UserError("set config.num_epochs or config.train_steps (EPOCHS= in make train).")
    try:  # a wrong tag or a missing file refuses the run before anything is written
        transform = transfer.eval_transform(config.get("init_from") or None, spec.name)
    except (ValueError, FileNotFoundError) as e:
        raise UserError(f"config.init_from: {e}") from None
    if config.data.eval_resize == 0:  # 0: the weights' own evaluation view (256 without)
        config.data.eval_resize, config.data.image_size = transform or (256, 224)
    return spec


def run_length(config, num_train_full: int, steps_per_epoch: int) -> tuple[int, int]:
    """(total steps, epochs). num_epochs counts passes over the full (unscaled) training set;
    `scale` then shrinks the steps like the data, so a scaled run keeps its epoch count."""
    full_spe = max(1, num_train_full // config.batch_size)
    length = config.num_epochs * full_spe if config.num_epochs else config.train_steps
    total = max(1, round(length * config.scale))
    return total, math.ceil(total / steps_per_epoch)


def plan(config, num_train_full: int, steps_per_epoch: int) -> Plan:
    total_steps, epochs = run_length(config, num_train_full, steps_per_epoch)
    return Plan(total_steps, epochs, base.base_learning_rate(config))


def build_model(config, spec, num_classes, input_shape) -> keras.Model:
    """The ResNet, compiled with SGD + momentum; create under `strategy.scope()`."""
    model = create_model(
        spec.name,
        num_classes=num_classes,
        input_shape=input_shape,
        shortcut=config.shortcut,
        variant=config.variant,
        weight_decay=config.weight_decay,  # coupled L2 (see keras_resnet/configs/base.py)
        weights=config.get("init_from") or None,  # a fresh head when the classes differ
    )
    if config.get("freeze_backbone"):
        transfer.freeze_backbone(model, int(config.unfreeze_stages))
    if config.fused_batchnorm:
        use_fused_batchnorm(model)
    use_remat(model, config.remat)  # after fused BN: it needs it
    optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=config.momentum)
    if config.precision == "float16":
        # float16 gradients underflow without it; bfloat16 has float32's range and needs none.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ],
        jit_compile=bool(config.jit_compile),
    )
    return model


def _tensorboard(log_dir: str) -> keras.callbacks.Callback:
    if importlib.util.find_spec("tensorboard") is None:  # TF 2.21 no longer pulls it in
        logger.warning("tensorboard is not installed: no TensorBoard logs (pip install it)")
        return keras.callbacks.Callback()
    return keras.callbacks.TensorBoard(log_dir, write_graph=False)


def _fit(config, spec, strategy, ds, own_dir, workdir, backup, graceful, run: Plan, tb_dir):
    """Builds (or restores) the model, trains it and saves model.keras; returns the model,
    its test metrics and the training time."""
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    with strategy.scope():
        model = build_model(config, spec, ds.num_classes, ds.input_shape)
    consensus = distribute.worker_consensus(strategy)
    graceful.consensus = consensus
    with strategy.scope():  # restoring builds the optimizer's (distributed) variables
        initial_epoch = backup.restore(model, consensus)
    if multi_worker:
        distribute.patch_keras_for_multi_worker(model, strategy, ds.train)
    callbacks = [
        cb.NanGuard(files.join(own_dir, wd.CHECKPOINTS)),  # first: before any save
        cb.EpochClock(ds.steps_per_epoch, run.total_steps),
        cb.LearningRate(
            cb.Schedule.of(config),
            run.base_lr,
            ds.steps_per_epoch,
            run.total_steps,
            own_dir,
            initial_epoch,
        ),
        recording.EpochRecorder(
            own_dir,
            epochs=run.epochs,
            total_steps=run.total_steps,
            global_batch=config.batch_size,
            initial_epoch=initial_epoch,
            select_best=config.data.val_split > 0,  # never choose a checkpoint on the test set
            progress_every_s=config.progress_every_s,
        ),
        backup,  # after the recorder: an epoch's row is written before its backup
        graceful,  # after the backup: on SIGTERM, the epoch-end backup is already saved
    ]
    if own_dir == workdir:  # TensorBoard logs: the chief's only
        callbacks.append(_tensorboard(tb_dir or files.join(workdir, wd.TENSORBOARD)))
    start = time.time()
    model.fit(
        ds.train,
        epochs=run.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=ds.steps_per_epoch,
        validation_data=ds.val,
        shuffle=False,  # the pipeline shuffles
        callbacks=callbacks,
        verbose=1 if progress.stdout_is_terminal() else 0,  # else EpochRecorder's lines
    )
    train_time = time.time() - start
    if multi_worker:
        distribute.average_non_trainable(model, strategy)
    wd.save_model_atomic(model, files.join(own_dir, wd.MODEL), fault="model")
    testing = progress.Progress(
        "testing", _batches(ds.test), unit="batches", every_s=config.progress_every_s
    )
    test = model.evaluate(
        ds.test, return_dict=True, verbose=0, callbacks=[progress.BatchProgress(testing)]
    )
    return model, test, train_time


def _batches(dataset) -> int | None:
    n = int(dataset.cardinality())
    return n if n >= 0 else None  # unknown or infinite


def train_and_evaluate(
    config, workdir: str, strategy=None, tensorboard_dir: str | None = None
) -> dict:
    """Trains `config` in `workdir` (resuming if it holds the same run); returns results.json.

    `workdir` and `tensorboard_dir` (default `workdir/tensorboard`) may be local paths or any
    tf.io.gfile URI (gs://, ram://): keras_resnet.storage.files."""
    spec = validate(config)
    strategy = strategy or distribute.get_strategy("auto")
    distribute.check_global_batch(config.batch_size, strategy)
    own_dir = distribute.worker_workdir(workdir, strategy)
    config_dict = config.to_dict()
    if wd.check_config(own_dir, config_dict):
        results = atomic.read_json(files.join(own_dir, wd.RESULTS))
        if results is not None:
            logger.info(f"{own_dir} is already trained; nothing to do")
            files.rmtree(files.join(own_dir, wd.BACKUP))  # if a kill cut its deletion short
            return results
    with interrupts.GracefulStop() as graceful:  # from the first write to the last
        try:
            return _run(
                config, config_dict, spec, strategy, workdir, own_dir, graceful, tensorboard_dir
            )
        except atomic.DiskFull as e:
            raise atomic.DiskFull(
                f"{e}; {graceful.describe_backup()}. Free some space and rerun the same "
                "command to resume."
            ) from None


def _run(config, config_dict, spec, strategy, workdir, own_dir, graceful, tb_dir) -> dict:
    source = inputs.source_for_config(config, spec)
    transfer.prefetch(config.get("init_from"), spec.name)  # the last check that can refuse
    machine.log_devices()  # after every check: a refused run's error stays one line
    wd.write_config(own_dir, config_dict)
    wd.remove_stale_temps(own_dir)  # temporary files of a killed run, never a final file
    if source.class_names:  # export serves them with the model (keras_resnet.export)
        names = "".join(f"{n}\n" for n in source.class_names)
        atomic.atomic_write_text(files.join(own_dir, wd.CLASS_NAMES), names)
    keras.utils.set_random_seed(config.seed)
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    raw = transfer.brings_normalization(config.get("init_from") or None, spec.name)
    ds = data.build(
        source,
        inputs.pipeline_settings(config),
        workdir=own_dir,
        distributed=multi_worker,
        raw_pixels=raw,
    )
    run = plan(config, source.num_train - config.data.val_split, ds.steps_per_epoch)
    logger.info(
        f"{spec.name} on {source.name}: {ds.num_train} train / {ds.num_val} val / {ds.num_test} "
        f"test images, {run.epochs} epoch(s) of {ds.steps_per_epoch} steps ({run.total_steps} "
        f"steps), batch {config.batch_size} on {strategy.num_replicas_in_sync} replica(s) of "
        f"{type(strategy).__name__}, "
        f"lr {run.base_lr:g}"
    )
    backup = graceful.backup = cb.ResumableBackup(
        files.join(own_dir, wd.BACKUP),
        config.backup_every_steps,
        ds.steps_per_epoch,
        run.total_steps,
    )
    keras.mixed_precision.set_dtype_policy(base.DTYPE_POLICIES[config.precision])
    try:
        model, test, train_time = _fit(
            config, spec, strategy, ds, own_dir, workdir, backup, graceful, run, tb_dir
        )
    finally:
        keras.mixed_precision.set_dtype_policy("float32")

    rows = wd.read_metrics(own_dir)
    results = {
        "model": spec.name,
        "dataset": source.name,
        "top1_error": round(100.0 * (1.0 - float(test["top1"])), 4),
        "top5_error": round(100.0 * (1.0 - float(test["top5"])), 4),
        "test_loss": round(float(test["loss"]), 6),
        "test_images": ds.num_test,
        "epochs": len(rows),
        "steps": backups.optimizer_step(model),
        "images_per_sec": recording.median_images_per_sec(rows),
        "train_time_s": round(train_time, 1),
    }
    atomic.atomic_write_json(files.join(own_dir, wd.RESULTS), results, fault="results")
    # Only now is the backup no longer needed: a kill before this line resumes at the end.
    files.rmtree(files.join(own_dir, wd.BACKUP))
    return results


def result_line(results: dict, workdir: str) -> str:
    """The one-line summary a command prints (or logs) when a run is done."""
    return (
        f"test top-1 error {results['top1_error']:.2f}%, top-5 error "
        f"{results['top5_error']:.2f}% ({results['steps']} steps, {results['epochs']} epoch(s), "
        f"{results['images_per_sec']:.0f} images/s); results in "
        f"{files.join(workdir, wd.RESULTS)}"
    )
