"""Input normalisations: what each source of weights expects its pixels to look like.

- "paper": pixels / 255 minus the per-pixel mean of the training images, "the per-pixel mean
  subtracted" of Sections 3.4 and 4.2. Models trained by `keras_resnet` expect this; the mean is
  the run's `mean.npy` (an (H, W, 3) image in [0, 1] units).
- "caffe": the paper's released Caffe models, which keras.applications' ResNet50/101/152 load:
  RGB -> BGR, then the ImageNet per-channel mean subtracted, no scaling
  (`keras.applications.resnet.preprocess_input`).
- "torch": torchvision's weights: pixels / 255, then per-channel ImageNet mean and std.

`preprocess_input(x, mode=...)` applies one of them to raw 0-255 RGB pixels, as
keras.applications' `preprocess_input` does for its models. Converted weights carry theirs in
the model (keras_resnet.models.preprocess_layer), so their models take raw pixels directly.
"""

from __future__ import annotations

import numpy as np

MODES = ("paper", "caffe", "torch")

# torchvision's ImageNet statistics (RGB, for pixels in [0, 1]).
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
# The Caffe models' mean, BGR order, for 0-255 pixels (keras.applications.imagenet_utils).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def channel_stats(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per RGB channel, in 0-255 units, such that (pixels - mean) / std is what the
    weights of `mode` ("caffe" or "torch") expect, channel order aside: Caffe's first conv reads
    BGR, which a converter folds into the weights (keras_resnet.weights)."""
    if mode == "torch":
        return 255.0 * np.array(TORCH_MEAN, np.float64), 255.0 * np.array(TORCH_STD, np.float64)
    if mode == "caffe":
        return np.array(CAFFE_MEAN_BGR[::-1], np.float64), np.ones(3, np.float64)
    raise ValueError(
        f"No per-channel statistics for mode {mode!r}; expected 'caffe' or 'torch' ('paper' "
        "subtracts a per-pixel mean)."
    )


def _as_float(x):
    if isinstance(x, (np.ndarray, list, tuple, int, float)):
        return np.asarray(x, np.float32)
    import tensorflow as tf

    return tf.cast(x, tf.float32)


def preprocess_input(x, mode: str = "torch", mean=None):
    """Normalises raw 0-255 RGB pixels (..., H, W, 3) for weights of the given `mode`.

    Args:
      x: numpy array or tensor of RGB pixels in [0, 255], channels last.
      mode: "paper" (x / 255 - mean; pass the run's per-pixel `mean`, e.g.
        `np.load("runs/resnet20/mean.npy", allow_pickle=False)`), "caffe" (BGR, minus the Caffe mean: equal to
        `keras.applications.resnet.preprocess_input`) or "torch" ((x / 255 - mean) / std).
      mean: the "paper" mode's mean, (H, W, 3) or (3,) in [0, 1] units; unused otherwise.

    Returns:
      float32, numpy for numpy input, a tensor for a tensor.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    x = _as_float(x)
    if x.shape[-1] != 3:
        raise ValueError(f"preprocess_input expects RGB pixels (..., 3), got shape {x.shape}.")
    if mode == "paper":
        if mean is None:
            raise ValueError(
                "mode='paper' subtracts the training run's per-pixel mean: pass "
                "mean=np.load('WORKDIR/mean.npy', allow_pickle=False)."
            )
        return x / 255.0 - np.asarray(mean, np.float32)
    if mode == "caffe":
        return x[..., ::-1] - np.array(CAFFE_MEAN_BGR, np.float32)
    mean, std = (np.asarray(v, np.float32) for v in (TORCH_MEAN, TORCH_STD))
    return (x / 255.0 - mean) / std
