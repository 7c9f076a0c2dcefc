"""The paper's own ImageNet models, as keras.applications ships them, in our v1 ResNets.

keras.applications' ResNet50/101/152 weights are the Caffe models He et al. released with the
paper (github.com/KaimingHe/deep-residual-networks), converted to Keras. Their layout is the
paper's v1 (bottleneck stride on the first 1x1 conv, projection shortcuts only where the shape
changes: option B), which `create_model("resnet50")` builds. Four things differ, and
`load_keras_applications` converts each exactly:

- Their convolutions have biases; ours have none because BN follows (Section 3.4). BN subtracts
  its mean right after, so a bias b is the same as a BN mean lowered by b: folded there.
- Their BN epsilon is 1.001e-5, ours PyTorch's 1e-5: the difference goes into the variance.
- Caffe's first conv reads BGR; its kernel's input channels are reversed to read RGB.
- Caffe subtracts the ImageNet mean per channel (no scaling): recorded as the model's input
  normalisation (keras_resnet.models.preprocess_layer), so the model takes raw 0-255 RGB pixels.
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np

from keras_resnet.imaging.pixel_normalization import channel_stats
from keras_resnet.models import preprocess_layer

# Our stage sizes -> the keras.applications constructor with those (paper Table 1).
MODELS = {(3, 4, 6, 3): "ResNet50", (3, 4, 23, 3): "ResNet101", (3, 8, 36, 3): "ResNet152"}


def _their_name(ours: str) -> str | None:
    """Our layer name -> keras.applications': stage3_block2_conv1 -> conv3_block2_1_conv."""
    if ours in ("stem_conv", "stem_bn"):
        return "conv1_" + ours[5:]
    if ours == "logits":
        return "predictions"
    m = re.fullmatch(r"stage(\d)_block(\d+)_(conv|bn)(\d)", ours)
    if m:
        return f"conv{m[1]}_block{m[2]}_{m[4]}_{m[3]}"
    m = re.fullmatch(r"stage(\d)_block(\d+)_shortcut_(conv|bn)", ours)
    return f"conv{m[1]}_block{m[2]}_0_{m[3]}" if m else None


def _stage_sizes(model: keras.Model) -> tuple[int, ...]:
    blocks: dict[int, int] = {}
    for layer in model.layers:
        if m := re.fullmatch(r"stage(\d)_block(\d+)_out", layer.name):
            blocks[int(m[1])] = max(blocks.get(int(m[1]), 0), int(m[2]))
    return tuple(blocks[s] for s in sorted(blocks))


def _legacy_layer_names(path: str) -> list[str] | None:
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        names = group.attrs.get("layer_names")
        return None if names is None else [n.decode() if isinstance(n, bytes) else n for n in names]


def is_keras_applications_file(path: str) -> bool:
    """A keras.applications ResNet weights file: the downloadable legacy `.h5` (layer names
    such as `conv1_conv`) or a Keras 3 `.weights.h5` whose convolutions have biases."""
    import h5py

    names = _legacy_layer_names(path)
    if names is not None:
        return "conv1_conv" in names and "conv2_block1_1_conv" in names
    with h5py.File(path, "r") as f:
        layers = f.get("layers", {})
        return any(n.startswith("conv2d") and "1" in g.get("vars", {}) for n, g in layers.items())


def file_has_top(path: str) -> bool:
    import h5py

    names = _legacy_layer_names(path)
    if names is not None:
        return "predictions" in names
    with h5py.File(path, "r") as f:
        return any(n.startswith("dense") for n in f.get("layers", {}))


def _source_model(model: keras.Model, source) -> keras.Model:
    if isinstance(source, keras.Model):
        return source
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"keras.applications weights file {path!r} does not exist.")
    sizes = _stage_sizes(model)
    if sizes not in MODELS:
        raise ValueError(
            f"Model {model.name!r} has stage sizes {sizes}; keras.applications has weights for "
            "resnet50, resnet101 and resnet152 only."
        )
    top = file_has_top(path)
    constructor = getattr(keras.applications, MODELS[sizes])
    their = constructor(weights=None, include_top=top, input_shape=(224, 224, 3) if top else None)
    their.load_weights(path)
    return their


def _check_v1(model: keras.Model) -> None:
    conv = next((la for la in model.layers if la.name == "stage3_block1_conv1"), None)
    if conv is None or max(conv.strides) == 1:
        raise ValueError(
            f"Model {model.name!r} is not the paper's v1 bottleneck ResNet (stride on "
            "stage3_block1_conv1); keras.applications weights need create_model(name) with "
            "variant='v1' (the default)."
        )


def _converted(layer, theirs: keras.Model) -> list[np.ndarray]:
    """Our layer's new weights, in Keras order, from keras.applications' model."""
    name = _their_name(layer.name)
    try:
        src = theirs.get_layer(name) if name else None
    except ValueError:
        src = None
    if src is None:
        raise KeyError(f"keras.applications model has no layer for {layer.name!r} ({name!r}).")
    if isinstance(layer, keras.layers.Conv2D):
        kernel = src.get_weights()[0]
        if layer.name == "stem_conv":
            kernel = kernel[:, :, ::-1, :]  # Caffe reads BGR; our input is RGB
        return [kernel]
    if isinstance(layer, keras.layers.BatchNormalization):
        gamma, beta, mean, var = (w.astype(np.float64) for w in src.get_weights())
        conv = theirs.get_layer(name[: -len("bn")] + "conv")
        bias = conv.get_weights()[1] if conv.use_bias else 0.0
        # BN(conv(x) + b) == BN'(conv(x)) with mean' = mean - b; var' keeps var + eps equal.
        var = var + (src.epsilon - layer.epsilon)
        return [gamma, beta, mean - bias, var]
    return src.get_weights()  # Dense: same (in, out) kernel and bias


def load_keras_applications(model: keras.Model, source, *, strict: bool = True) -> keras.Model:
    """Fills our v1 `model` in place from keras.applications' ResNet50/101/152 and returns it.

    Args:
      model: `create_model("resnet50" | "resnet101" | "resnet152")` (variant "v1", shortcut
        "B": the defaults), with or without the top.
      source: a `keras.applications.ResNet50/101/152` model, or its weights file (the `.h5`
        keras.applications downloads, or a `.weights.h5` saved from such a model).
      strict: if True, keras.applications layers with weights that no layer of ours took raise
        a KeyError naming them (e.g. its classifier, for a model without the top).

    The filled model takes raw 0-255 RGB pixels: given the same pixels x, its softmax equals
    `ka_model(keras.applications.resnet.preprocess_input(x))`.
    """
    _check_v1(model)
    theirs = _source_model(model, source)
    used, pending = set(), []
    for layer in model.layers:
        if not layer.weights or layer.name == preprocess_layer.LAYER:
            continue
        arrays = [np.asarray(a, np.float32) for a in _converted(layer, theirs)]
        shapes = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != shapes:
            raise ValueError(
                f"Layer {layer.name!r} expects {shapes}, keras.applications' "
                f"{_their_name(layer.name)!r} gives {[a.shape for a in arrays]}."
            )
        pending.append((layer, arrays))
        their_name = _their_name(layer.name)
        used.add(their_name)
        if isinstance(layer, keras.layers.BatchNormalization):
            used.add(their_name[: -len("bn")] + "conv")  # the conv whose bias it took
    unused = sorted(la.name for la in theirs.layers if la.weights and la.name not in used)
    if strict and unused:
        raise KeyError(f"keras.applications layers not used by {model.name!r}: {unused[:5]}.")
    preprocess_layer.set_input_normalization(model, *channel_stats("caffe"))
    for layer, arrays in pending:
        layer.set_weights(arrays)
    return model
