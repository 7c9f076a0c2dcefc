"""The model's own input normalisation: a standard `keras.layers.Normalization` named
`preprocess`, right after the input.

keras.applications' `include_preprocessing` convention, made to work in place: the layer's mean
and variance are (non-trainable) weights, identity by default, so a weights converter can fill
them like any other weight, and `model.save()` stores them in the `.keras` file, which still
opens with plain Keras in safe mode.

- Identity (mean 0, variance 1): a model trained by `keras_resnet`. Its input is normalised
  outside the model, by the training pipeline's rule (pixels / 255 minus the run's per-pixel
  mean, "paper" in keras_resnet.imaging.pixel_normalization), which a per-channel layer cannot hold.
- Anything else: converted weights (torchvision, the paper's Caffe models). The model takes raw
  0-255 RGB pixels and normalises them itself; evaluation, export and serving feed it raw pixels.
"""

from __future__ import annotations

import keras
import numpy as np

LAYER = "preprocess"


def preprocess_layer() -> keras.layers.Normalization:
    # float32 under mixed precision too: bfloat16 holds 0-255 values only to within ~1 unit.
    return keras.layers.Normalization(axis=-1, dtype="float32", name=LAYER)


def _layer(model: keras.Model):
    try:
        layer = model.get_layer(LAYER)
    except ValueError:
        return None  # a model saved before the layer existed
    return layer if isinstance(layer, keras.layers.Normalization) else None


def set_input_normalization(model: keras.Model, mean, std) -> None:
    """Makes `model` take raw 0-255 RGB pixels: its first layer computes (x - mean) / std per
    channel. `mean`, `std`: 3 values each, in 0-255 units."""
    layer = _layer(model)
    if layer is None:
        raise ValueError(
            f"Model {model.name!r} has no {LAYER!r} Normalization layer to hold its input "
            "normalisation; build it with keras_resnet.create_model."
        )
    mean = np.asarray(mean, np.float32).reshape(-1)
    std = np.asarray(std, np.float32).reshape(-1)
    if mean.shape != (3,) or std.shape != (3,) or np.any(std <= 0):
        raise ValueError(f"mean and std must be 3 values (std > 0), got {mean!r}, {std!r}.")
    mean_var, var_var, count = layer.weights
    layer.set_weights([mean, np.square(std), np.asarray(count.numpy())])
    # Normalization snapshots its variables into constants in finalize_state (Keras does this
    # itself after loading a file, not after set_weights).
    layer.finalize_state()


def input_normalization(model: keras.Model) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) per RGB channel in 0-255 units when `model` takes raw pixels; None when it
    expects input normalised outside (the identity layer, or no layer)."""
    layer = _layer(model)
    if layer is None or layer.input_mean is not None:
        return None
    mean = np.asarray(layer.adapt_mean.numpy(), np.float64)
    var = np.asarray(layer.adapt_variance.numpy(), np.float64)
    if np.all(mean == 0) and np.all(var == 1):
        return None
    return mean, np.sqrt(var)


def takes_raw_pixels(model: keras.Model) -> bool:
    return input_normalization(model) is not None
