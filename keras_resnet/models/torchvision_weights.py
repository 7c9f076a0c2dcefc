"""ImageNet-pretrained weights from torchvision's ResNet state_dicts.

torchvision's ResNets are the v1.5 layout (bottleneck stride on the 3x3 conv) with option-B
shortcuts, so `load_torchvision` fills a `create_model(name, variant="v1.5")` model. torch is
needed only to read `.pth` files; a `.npz`, a `.safetensors` or an in-memory mapping works
without it.

torchvision's weights expect (pixels / 255 - mean) / std with ImageNet's per-channel statistics;
the converted model records that as its input normalisation (keras_resnet.models.preprocess_layer)
and takes raw 0-255 RGB pixels, so evaluation, export and serving need no flags.

The paper's own (Caffe) weights, as keras.applications ships them, load with
`load_keras_applications` (keras_resnet.models.keras_applications) into the v1 layout.
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np

from keras_resnet.errors import MissingExtra
from keras_resnet.imaging.pixel_normalization import channel_stats
from keras_resnet.models import preprocess_layer
from keras_resnet.models.keras_applications import load_keras_applications

__all__ = ["load_keras_applications", "load_torchvision", "read_state_dict"]
_BN_FIELDS = ("weight", "bias", "running_mean", "running_var")  # = Keras' gamma, beta, mean, var


def _torch_prefix(layer_name: str) -> str | None:
    """Maps a Keras layer name to the torchvision module that holds its weights."""
    if layer_name in ("stem_conv", "stem_bn"):
        return "conv1" if layer_name == "stem_conv" else "bn1"
    if layer_name == "logits":
        return "fc"
    m = re.fullmatch(r"stage(\d+)_block(\d+)_(conv|bn)(\d)", layer_name)
    if m:
        stage, block, kind, idx = m.groups()
        return f"layer{int(stage) - 1}.{int(block) - 1}.{kind}{idx}"
    m = re.fullmatch(r"stage(\d+)_block(\d+)_shortcut_(conv|bn)", layer_name)
    if m:
        stage, block, kind = m.groups()
        return f"layer{int(stage) - 1}.{int(block) - 1}.downsample.{0 if kind == 'conv' else 1}"
    return None


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)


def read_state_dict(source) -> dict[str, np.ndarray]:
    """Reads a state_dict from a mapping, `.npz`, `.safetensors` or `.pth` file."""
    if isinstance(source, dict) or hasattr(source, "items"):
        return {str(k): _to_numpy(v) for k, v in source.items()}
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Weights file {path!r} does not exist.")
    if path.endswith(".npz"):
        # allow_pickle=False: an .npz holding object arrays is refused rather than unpickled.
        with np.load(path, allow_pickle=False) as data:
            return {k: _to_numpy(data[k]) for k in data.files}
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        return {k: _to_numpy(v) for k, v in load_file(path).items()}
    if path.endswith((".pth", ".pt")):
        try:
            import torch
        except ImportError:  # a user's choice of file, not a bug: one line, exit 2 in the CLIs
            raise MissingExtra(
                "torch", ["torch"], f"convert {path!r} to .safetensors or .npz first."
            ) from None
        # weights_only=True: tensors only, never arbitrary pickled objects.
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        return {str(k): _to_numpy(v) for k, v in state.items()}
    raise ValueError(
        f"Unsupported weights file {path!r}; expected .pth, .pt, .npz or .safetensors."
    )


def _convert(
    layer, prefix: str, state: dict[str, np.ndarray]
) -> tuple[list[np.ndarray], list[str]]:
    """Returns the layer's new weights, in Keras order, and the torch keys they came from."""
    if isinstance(layer, keras.layers.BatchNormalization):
        keys = [f"{prefix}.{f}" for f in _BN_FIELDS]
        arrays = [state.get(k) for k in keys]
    elif isinstance(layer, keras.layers.Conv2D):
        keys = [f"{prefix}.weight"]
        w = state.get(keys[0])
        # torch OIHW -> Keras HWIO.
        arrays = [None if w is None or w.ndim != 4 else w.transpose(2, 3, 1, 0)]
    elif isinstance(layer, keras.layers.Dense):
        keys = [f"{prefix}.weight", f"{prefix}.bias"]
        w, b = (state.get(k) for k in keys)
        arrays = [None if w is None or w.ndim != 2 else w.T, b]  # torch (out, in) -> (in, out)
    else:
        raise ValueError(f"Layer {layer.name!r} has no torchvision counterpart.")
    for key, array in zip(keys, arrays):
        if key not in state:
            raise KeyError(
                f"torchvision state_dict has no key {key!r} (needed by layer {layer.name!r})."
            )
        if array is None:
            raise ValueError(
                f"Key {key!r} has shape {state[key].shape}, which cannot fill {layer.name!r}."
            )
    for key, array, weight in zip(keys, arrays, layer.weights):
        if tuple(array.shape) != tuple(weight.shape):
            raise ValueError(
                f"Shape mismatch for key {key!r}: torch {state[key].shape} -> {array.shape}, "
                f"but layer {layer.name!r} expects {tuple(weight.shape)}."
            )
    return arrays, keys


def _check_layout(model: keras.Model) -> None:
    """v1 and v1.5 bottlenecks hold same-shaped weights, so a shape check cannot tell them apart;
    the stride's position can. torchvision weights in a v1 model would load and silently compute
    something else."""
    for layer in model.layers:
        if (
            isinstance(layer, keras.layers.Conv2D)
            and re.fullmatch(r"stage\d+_block\d+_conv1", layer.name)
            and tuple(layer.kernel_size) == (1, 1)
            and max(layer.strides) > 1
        ):
            raise ValueError(
                f"Model {model.name!r} is the paper's v1 layout (stride on {layer.name!r}); "
                "torchvision weights need create_model(..., variant='v1.5')."
            )


def load_torchvision(model: keras.Model, source, *, strict: bool = True) -> keras.Model:
    """Fills `model` in place from a torchvision ResNet state_dict and returns it.

    Args:
      model: a `create_model(name, variant="v1.5")` model with option-B shortcuts (the defaults
        of the ImageNet nets), e.g. resnet50 for torchvision's `resnet50` weights.
      source: a mapping name -> array (numpy arrays or torch tensors), or a path to a `.pth`,
        `.npz` or `.safetensors` file, with torchvision's key names (`conv1.weight`,
        `layer2.0.downsample.0.weight`, `fc.bias`, ...).
      strict: if True, keys that no layer used raise an error naming them.

    The filled model takes raw 0-255 RGB pixels (it normalises them as torchvision's
    transforms do): its logits on pixels x equal torch's on (x / 255 - mean) / std.

    Raises:
      KeyError / ValueError naming the missing, unused or mis-shaped key.
    """
    _check_layout(model)
    state = read_state_dict(source)
    used: set[str] = set()
    pending = []
    for layer in model.layers:
        if not layer.weights or layer.name == preprocess_layer.LAYER:
            continue
        prefix = _torch_prefix(layer.name)
        if prefix is None:
            raise ValueError(
                f"Layer {layer.name!r} has no torchvision counterpart; load_torchvision expects a "
                "keras_resnet ImageNet model with option-B shortcuts."
            )
        arrays, keys = _convert(layer, prefix, state)
        pending.append((layer, arrays))
        used.update(keys)
    unused = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    if strict and unused:
        raise KeyError(
            f"torchvision state_dict keys not used by {model.name!r}: {unused[:5]}"
            f"{' ...' if len(unused) > 5 else ''} (wrong depth, or a variant='v1' model?)."
        )
    # Assign only after every key checked out, so a failed load leaves the model untouched.
    preprocess_layer.set_input_normalization(model, *channel_stats("torch"))
    for layer, arrays in pending:
        layer.set_weights(arrays)
    return model
