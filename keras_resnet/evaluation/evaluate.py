"""Evaluates a trained workdir on its test split: top-1 and top-5 error, in percent.

    keras-resnet-eval --workdir=runs/resnet50 --mode=10crop
    make eval WORKDIR=runs/resnet50 ARGS=--mode=multiscale

Modes (paper Section 3.4 and Table 4):
- center: the training run's evaluation view (ImageNet: resize 256, central 224 crop).
- 10crop: four corners and the centre of the 256-resized image, each with its mirror; the
  softmax scores of the ten views are averaged. (No mirrors for data trained without flips.)
- multiscale: fully-convolutional scores of the whole image (and its mirror) with the shorter
  side at {224, 256, 384, 480, 640}, averaged. Sizes scale with the crop: 32/224 for CIFAR.
  It pays off for nets trained with scale augmentation (ImageNet); CIFAR-style nets see one
  scale in training, and Section 4.2 tests them on the single original view (center).
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from keras_resnet import data, machine, progress
from keras_resnet.configs import base
from keras_resnet.data import augment
from keras_resnet.errors import UserError
from keras_resnet.models import preprocess_layer, pretrained, registry
from keras_resnet.models.resnet import create_model
from keras_resnet.storage import atomic, files
from keras_resnet.training import inputs
from keras_resnet.training import workdir as wd

MODES = ("center", "10crop", "multiscale")
logger = logging.getLogger(__name__)


def _load(workdir: str, checkpoint: str):
    config_path = files.join(workdir, wd.CONFIG)
    path = files.join(
        workdir, wd.MODEL if checkpoint == "final" else f"checkpoints/{checkpoint}.keras"
    )
    if not files.exists(config_path):
        raise UserError(
            f"{workdir} holds no trained model ({config_path} is missing); train first."
        )
    config = ml_collections.ConfigDict(atomic.read_json(config_path))
    if checkpoint == "best" and not config.data.get("val_split"):
        raise UserError(
            f"{workdir} has no best.keras: it trained without a validation split, and choosing "
            "a checkpoint on the test set would be test-set selection; use --checkpoint=final "
            "or train with --config.data.val_split=N."
        )
    if not files.exists(path):
        raise UserError(f"{workdir} holds no trained model ({path} is missing); train first.")
    with files.local_copy(path) as local:  # a workdir may be in a bucket
        return config, keras.models.load_model(local)


def _errors(probs: np.ndarray, labels: np.ndarray) -> dict:
    top5 = np.argsort(-probs, axis=1)[:, :5]
    top1_err = float(np.mean(top5[:, 0] != labels))
    top5_err = float(np.mean(~np.any(top5 == labels[:, None], axis=1)))
    return {"top1_error": round(100 * top1_err, 4), "top5_error": round(100 * top5_err, 4)}


def _averaged_scores(model, views: tf.data.Dataset, done: progress.Progress):
    """views yields (V, H, W, 3) stacks per image, batched; returns mean softmax per image."""
    probs, labels = [], []
    for stack, y in views:
        b, v = stack.shape[0], stack.shape[1]
        logits = model(tf.reshape(stack, (b * v, *stack.shape[2:])), training=False)
        p = tf.reduce_mean(tf.reshape(tf.nn.softmax(logits), (b, v, -1)), axis=1)
        probs.append(p.numpy())
        labels.append(y.numpy())
        done.add(b)
    return np.concatenate(probs), np.concatenate(labels)


def _progress(config, mode: str, images: int, passes: int) -> progress.Progress:
    """A bar on a terminal, else a line every progress_every_s seconds (the run's config;
    the default for workdirs written before the key existed)."""
    every_s = config.get("progress_every_s", base.base_config().progress_every_s)
    return progress.Progress(f"evaluating ({mode})", images * passes, every_s=every_s)


def _on_raw_pixels(model, mean):
    """`model`, which normalises raw 0-255 pixels itself (converted weights,
    keras_resnet.models.preprocess_layer), called on the pipeline's views (pixels / 255 - mean):
    the mean is added back, resized as the view's was, and the pixels scaled back."""
    return lambda x, training=False: model(
        augment.subtract_mean(x, -mean) * 255.0, training=training
    )


def evaluate(workdir: str, mode: str = "center", checkpoint: str = "final") -> dict:
    """Returns {'top1_error', 'top5_error', ...} and writes eval_<mode>.json in the workdir."""
    probs, labels = predict(workdir, mode, checkpoint)
    return _finish(workdir, mode, _errors(probs, labels), len(labels))


def predict(workdir: str, mode: str = "center", checkpoint: str = "final"):
    """(probabilities (N, C), labels (N,)) of the workdir's model on its test split, each image
    seen as `mode` sees it (the views' softmax averaged)."""
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    config, model = _load(workdir, checkpoint)
    spec = registry.get_spec(config.model)  # once per evaluation
    source = inputs.source_for_config(config, spec)
    raw = preprocess_layer.takes_raw_pixels(model)
    settings = inputs.pipeline_settings(config)
    if raw:  # any mean will do, as it is added back: one image's, not the training set's
        settings = dataclasses.replace(settings, mean_examples=1)
    ds = data.build(source, settings, workdir=workdir, write_mean=False)
    on_views = (lambda m: _on_raw_pixels(m, ds.mean)) if raw else (lambda m: m)
    machine.log_devices()  # after every check: a refused evaluation's error stays one line
    logger.info(f"{workdir} ({checkpoint}): {mode} on {ds.num_test} test images of {source.name}")
    batch = int(config.data.eval_batch_size or config.batch_size)
    if mode == "center":
        done = _progress(config, mode, ds.num_test, 1)
        centre = ds.test.map(lambda x, y: (x[:, None], y))
        return _averaged_scores(on_views(model), centre, done)

    crop = ds.input_shape[0]
    _, _, test, _ = data.split(source, int(config.data.val_split), float(config.scale))
    fixed_size = source.style == data.SMALL  # every image the same size: views batch
    if mode == "10crop":
        resize = (
            round(crop * config.data.eval_resize / 224) if fixed_size else config.data.eval_resize
        )
        views = [
            test.map(
                lambda x, y: (
                    augment.ten_crop(x, ds.mean, crop=crop, resize=resize, flip=source.flip),
                    y,
                )
            )
        ]
        net = model
    else:
        # Fully convolutional: the same weights on an input of any size.
        net = create_model(
            spec.name,
            num_classes=ds.num_classes,
            input_shape=(None, None, 3),
            shortcut=config.shortcut,
            variant=config.variant,
        )
        pretrained.copy_by_name(model, net)  # by name: also sets `preprocess`'s constants
        sides = [round(s * crop / 224) for s in augment.MULTISCALE_SIDES]
        views = [
            test.map(
                lambda x, y, s=s: (
                    augment.multiscale_views(x, ds.mean, side=s, flip=source.flip),
                    y,
                )
            )
            for s in sides
        ]
    total = None
    done = _progress(config, mode, ds.num_test, len(views))  # multiscale: a pass per scale
    for v in views:
        probs, labels = _averaged_scores(on_views(net), v.batch(batch if fixed_size else 1), done)
        total = probs if total is None else total + probs
    return total / len(views), labels


def _finish(workdir, mode, errors, n) -> dict:
    result = {"mode": mode, "images": n, **errors}
    atomic.atomic_write_json(files.join(workdir, f"eval_{mode}.json"), result)
    return result


def result_line(result: dict) -> str:
    """The one-line summary a command prints (or logs) for an evaluation's result."""
    return (
        f"{result['mode']}: top-1 error {result['top1_error']:.2f}%, top-5 error "
        f"{result['top5_error']:.2f}% on {result['images']} test images"
    )
