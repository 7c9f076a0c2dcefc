"""`create_model(..., weights=PATH)`: which kind of file a weights source is, and loading it.

Every source fills a model of the same layout (a "donor"); when the requested model differs
only in its head (include_top=False, pooling), the donor is built with the file's own head and
its layers are copied over by name, so a headless model takes any file a full one takes.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from keras_resnet.models import keras_applications, preprocess_layer, weights

TORCHVISION = "torchvision"  # a torchvision state_dict: .pth, .pt, .safetensors, .npz
KERAS_APPLICATIONS = "keras_applications"  # keras.applications ResNet50/101/152 weights
KERAS_WEIGHTS = "keras_weights"  # this package's own model.save_weights() file
KERAS_MODEL = "keras_model"  # a .keras file, or a training workdir's model.keras
TORCH_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str
    path: str


def classify(weights) -> Source | None:
    """The kind of `weights` (None: random init); FileNotFoundError / ValueError echo it."""
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be None or a path, got {weights!r}.")
    path = os.fspath(weights)
    if os.path.isdir(path):
        model_path = os.path.join(path, "model.keras")
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"weights={path!r} is a directory without model.keras.")
        return Source(KERAS_MODEL, model_path)
    if path == "imagenet" and not os.path.exists(path):
        raise ValueError(
            "weights='imagenet' would download; nothing is downloaded here: pass a local file "
            "(torchvision's .pth, keras.applications' .h5) or a workdir."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights={path!r}: no such file or workdir.")
    if path.endswith(".keras"):
        return Source(KERAS_MODEL, path)
    if path.endswith(TORCH_SUFFIXES):
        return Source(TORCHVISION, path)
    if path.endswith(".h5"):
        kind = KERAS_APPLICATIONS if keras_applications.is_keras_applications_file(path) else None
        return Source(kind or KERAS_WEIGHTS, path)
    raise ValueError(
        f"Unsupported weights file {path!r}; expected .pth, .pt, .safetensors, .npz, .h5, "
        ".weights.h5, .keras or a training workdir."
    )


def _own_h5_classes(path: str) -> int | None:
    """Classifier width of one of our `.weights.h5` files (None: saved without the top)."""
    import h5py

    with h5py.File(path, "r") as f:
        for name, group in f.get("layers", {}).items():
            kernel = group.get("vars", {}).get("0")
            if name.startswith("dense") and kernel is not None and kernel.ndim == 2:
                return int(kernel.shape[1])
    return None


def _file_classes(source: Source) -> int | None:
    if source.kind == TORCHVISION:
        state = weights.read_state_dict(source.path)
        return int(state["fc.weight"].shape[0]) if "fc.weight" in state else None
    if source.kind == KERAS_APPLICATIONS:
        return 1000 if keras_applications.file_has_top(source.path) else None
    return _own_h5_classes(source.path)


def _classes(model: keras.Model) -> int | None:
    try:
        return int(model.get_layer("logits").units)
    except ValueError:
        return None


def copy_by_name(donor: keras.Model, model: keras.Model) -> None:
    """Sets every weighted layer of `model` from `donor`'s layer of the same name. A donor
    saved before models had a `preprocess` layer leaves `model`'s at the identity, which is
    what such a model was trained with."""
    pending = []
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            arrays = donor.get_layer(layer.name).get_weights()
        except ValueError:
            if layer.name == preprocess_layer.LAYER:
                continue
            raise ValueError(
                f"The weights have no layer {layer.name!r} (a different model or shortcut?)."
            ) from None
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(np.shape(a)) for a in arrays] != shapes:
            raise ValueError(
                f"Layer {layer.name!r}: the weights hold shapes "
                f"{[np.shape(a) for a in arrays]}, the model {shapes}."
            )
        pending.append((layer, arrays))
    for layer, arrays in pending:
        layer.set_weights(arrays)
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()  # see preprocess_layer.set_input_normalization


def load(model: keras.Model, source: Source, build) -> keras.Model:
    """Fills `model` from `source`; `build(num_classes=, include_top=)` makes a donor model of
    the same architecture with another head."""
    if source.kind == KERAS_MODEL:
        donor = keras.models.load_model(source.path, compile=False, safe_mode=True)
    else:
        file_classes, classes = _file_classes(source), _classes(model)
        if classes is not None and file_classes != classes:
            raise ValueError(
                f"The weights in {source.path!r} have "
                f"{'no classifier' if file_classes is None else f'{file_classes} classes'}; "
                f"the model has {classes}: pass num_classes={file_classes} or include_top=False."
            )
        donor = model
        if classes is None and file_classes is not None:
            donor = build(num_classes=file_classes, include_top=True)
        if source.kind == TORCHVISION:
            weights.load_torchvision(donor, source.path)
        elif source.kind == KERAS_APPLICATIONS:
            keras_applications.load_keras_applications(donor, source.path)
        else:
            donor.load_weights(source.path)
    if donor is not model:
        copy_by_name(donor, model)
    return model
