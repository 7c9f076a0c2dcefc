"""tf.data pipelines at the global batch size, and the per-pixel training mean.

The mean is computed once, on the training split as the evaluation view sees it, and stored
in the workdir as `mean.npy`, so that a resumed run, `evaluate` and an export all subtract
exactly the same image.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math

import numpy as np
import tensorflow as tf

from keras_resnet.data import augment
from keras_resnet.data.sources import IMAGENET, SMALL, Source
from keras_resnet.errors import UserError
from keras_resnet.storage import atomic, files

AUTOTUNE = tf.data.AUTOTUNE
MEAN_FILE = "mean.npy"
# Evaluation sets keep at least this many examples when `scale` shrinks the data.
MIN_EVAL_EXAMPLES = 100


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """The fields of a run that `build` uses, and no others: data knows no configs
    (keras_resnet.training.inputs.pipeline_settings makes one from a run's config; the
    defaults are keras_resnet/configs/base.py's)."""

    batch_size: int  # global, over all replicas and workers
    eval_batch_size: int = 0  # 0: batch_size
    val_split: int = 0  # training images held out for validation; 0 validates on the test set
    scale: float = 1.0  # fraction of each split kept, for smoke runs
    seed: int = 0  # the fresh file order of each epoch (ImageNet-style TFDS sets)
    shuffle_buffer: int = 50_000
    mean_examples: int = 0  # training images averaged for the per-pixel mean; 0: all
    image_size: int = 224  # crop size of ImageNet-style data
    eval_resize: int = 256  # shorter side before the central crop at test time
    scale_range: tuple[int, int] = (256, 480)  # scale augmentation (Section 3.4)
    pca_lighting: bool = True  # AlexNet colour augmentation, ImageNet-style data only


@dataclasses.dataclass
class Datasets:
    train: tf.data.Dataset  # endless, augmented, batched at the global batch
    val: tf.data.Dataset
    test: tf.data.Dataset
    steps_per_epoch: int
    num_train: int  # training examples, after the validation split and `scale`
    num_val: int
    num_test: int
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: np.ndarray
    source: Source


def split(source: Source, val_split: int, scale: float):
    """Returns (train, val, test, counts). `val_split` > 0 holds out the last `val_split`
    training images (the paper's 45k/5k); 0 validates on the test split. `scale` < 1 keeps
    that fraction of each split, for smoke runs."""
    n = source.num_train
    if not 0 <= val_split < n:
        raise UserError(
            f"val_split must be in [0, {n}) for {source.name} ({n} training images), got "
            f"{val_split}; set --config.data.val_split=N."
        )
    if val_split:
        train, val = source.train.take(n - val_split), source.train.skip(n - val_split)
        n_train, n_val = n - val_split, val_split
    else:
        train, val, n_train, n_val = source.train, source.test, n, source.num_test
    test, n_test = source.test, source.num_test
    if scale < 1:
        keep = lambda m, floor: min(m, max(floor, math.ceil(m * scale)))  # noqa: E731
        n_train = keep(n_train, 1)
        n_val, n_test = keep(n_val, MIN_EVAL_EXAMPLES), keep(n_test, MIN_EVAL_EXAMPLES)
        train, val, test = train.take(n_train), val.take(n_val), test.take(n_test)
    return train, val, test, (n_train, n_val, n_test)


def _views(source: Source, settings: PipelineSettings):
    """(train_fn, eval_fn, input_shape) for the source's style; fns map (uint8, mean)."""
    if source.style == SMALL:
        train_fn = functools.partial(augment.small_train, flip=source.flip)
        return train_fn, augment.small_eval, None
    crop = int(settings.image_size)
    train_fn = functools.partial(
        augment.imagenet_train,
        crop=crop,
        scale_range=tuple(settings.scale_range),
        flip=source.flip,
        pca=bool(settings.pca_lighting),
    )
    eval_fn = functools.partial(augment.imagenet_eval, crop=crop, resize=int(settings.eval_resize))
    return train_fn, eval_fn, (crop, crop, 3)


def _scaled(view_fn):
    return lambda image, mean: view_fn(image, mean) * 255.0


def compute_mean(ds: tf.data.Dataset, eval_fn, max_examples: int) -> np.ndarray:
    """Per-pixel mean of the evaluation view over (up to `max_examples` of) the training set."""
    views = ds.map(lambda x, y: eval_fn(x, None), num_parallel_calls=AUTOTUNE)
    if max_examples:
        views = views.take(max_examples)
    views = views.batch(256).prefetch(AUTOTUNE)
    total, count = None, 0
    for batch in views:
        s = tf.reduce_sum(tf.cast(batch, tf.float64), axis=0).numpy()
        total = s if total is None else total + s
        count += int(batch.shape[0])
    return (total / count).astype(np.float32)


def load_or_compute_mean(train, eval_fn, max_examples, workdir, write: bool) -> np.ndarray:
    path = files.join(workdir, MEAN_FILE) if workdir else None
    if path and files.exists(path):  # any file system (keras_resnet.storage.files)
        return np.load(io.BytesIO(files.read_bytes(path)), allow_pickle=False)
    mean = compute_mean(train, eval_fn, max_examples)
    if path and write:
        # Atomic: a kill never leaves half a mean.
        atomic.atomic_write(path, lambda tmp: np.save(tmp, mean), tmp=path + ".tmp.npy")
    return mean


def _options(distributed: bool) -> tf.data.Options:
    options = tf.data.Options()
    if distributed:
        # Every worker reads the same ordered examples and keeps its share of each global batch:
        # in-memory sources have no files to shard by.
        policy = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = policy
    return options


def build(
    source: Source,
    settings: PipelineSettings,
    *,
    workdir: str | None = None,
    write_mean: bool = True,
    distributed: bool = False,
    raw_pixels: bool = False,
) -> Datasets:
    """Builds the training, validation and test pipelines of `source` with `settings`.

    `raw_pixels`: the model normalises its input itself (converted pretrained weights), so the
    views are fed as 0-255 pixels and no per-pixel mean is computed, stored or subtracted."""
    batch = int(settings.batch_size)
    eval_batch = int(settings.eval_batch_size or batch)
    train, val, test, (n_train, n_val, n_test) = split(
        source, int(settings.val_split), float(settings.scale)
    )
    if n_train < batch:
        raise UserError(
            f"{source.name} has {n_train} training examples, fewer than one batch of {batch}; "
            "lower batch_size or raise scale."
        )
    train_fn, eval_fn, input_shape = _views(source, settings)
    if raw_pixels:  # a zero mean subtracts nothing; the views' [0, 1] pixels scaled back
        mean = np.zeros_like(compute_mean(train, eval_fn, 1))
        train_fn, eval_fn = _scaled(train_fn), _scaled(eval_fn)
    else:
        mean = load_or_compute_mean(
            train, eval_fn, int(settings.mean_examples), workdir, write_mean
        )
    fresh_order = source.shuffled_train is not None and not int(settings.val_split)
    if fresh_order and n_train == source.num_train:
        # A fresh file order every epoch (the mean above is of the fixed order: the same on
        # every run and every resume). Only without a validation split or a `scale` subset,
        # which are taken off the fixed order.
        train = source.shuffled_train(int(settings.seed))
    input_shape = input_shape or tuple(int(d) for d in mean.shape)
    small = source.style == SMALL
    if small:  # decoded small sets fit in memory: decode once, not every epoch
        train, val, test = train.cache(), val.cache(), test.cache()
    options = _options(distributed)

    train = (
        train.shuffle(min(n_train, int(settings.shuffle_buffer)), reshuffle_each_iteration=True)
        .repeat()
        .map(lambda x, y: (train_fn(x, mean), y), num_parallel_calls=AUTOTUNE)
        .batch(batch, drop_remainder=True)
        .prefetch(AUTOTUNE)
        .with_options(options)
    )

    def eval_pipeline(ds):
        ds = ds.map(lambda x, y: (eval_fn(x, mean), y), num_parallel_calls=AUTOTUNE)
        return ds.batch(eval_batch).prefetch(AUTOTUNE).with_options(options)

    return Datasets(
        train=train,
        val=eval_pipeline(val),
        test=eval_pipeline(test),
        steps_per_epoch=n_train // batch,
        num_train=n_train,
        num_val=n_val,
        num_test=n_test,
        num_classes=source.num_classes,
        input_shape=input_shape,
        mean=mean,
        source=source,
    )


__all__ = ["Datasets", "IMAGENET", "PipelineSettings", "SMALL", "build", "compute_mean", "split"]
