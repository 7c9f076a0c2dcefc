"""`create_model(..., weights=)`: which kind of source the weights are, and loading them.

A source is a local file or workdir, or a registered tag (keras_resnet.hub: "imagenet",
"resnet50.tv2_in1k", the user's own), which is fetched into the cache, verified, converted
once, and kept converted under the source file's hash.

Every source fills a model of its own layout and head (a "donor"); the requested model takes
the donor's layers by name. So a headless model takes any file a full one takes, and a model
with another number of classes keeps the pretrained backbone and starts a fresh classifier.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import keras
import numpy as np

from keras_resnet.hub import catalog, store
from keras_resnet.hub.specs import WeightSpec
from keras_resnet.models import keras_applications, preprocess_layer, torchvision_weights
from keras_resnet.storage import atomic

logger = logging.getLogger(__name__)
TORCHVISION = "torchvision"  # a torchvision state_dict: .pth, .pt, .safetensors, .npz
KERAS_APPLICATIONS = "keras_applications"  # keras.applications ResNet50/101/152 weights
KERAS_WEIGHTS = "keras_weights"  # this package's own model.save_weights() file
KERAS_MODEL = "keras_model"  # a .keras file, or a training workdir's model.keras
REGISTERED = "registered"  # a tag of keras_resnet.hub.catalog, fetched on first use
TORCH_SUFFIXES = (".pth", ".pt", ".safetensors", ".npz")
HEAD = "logits"


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str
    path: str | None
    spec: WeightSpec | None = None


def classify(weights, model: str = "", include_top: bool = True) -> Source | None:
    """The kind of `weights` for `create_model(model)` (None: random init);
    FileNotFoundError / ValueError echo it."""
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be None, a tag or a path, got {weights!r}.")
    path = os.fspath(weights)
    if catalog.is_tag(path) and not os.path.exists(path):
        spec = catalog.resolve(path, model, include_top=include_top)
        if model and spec.model != model:
            raise ValueError(
                f"weights={path!r} are for {spec.model!r}, not {model!r}: "
                f"create_model({spec.model!r}, weights={path!r})."
            )
        store.check_offline(spec)
        return Source(REGISTERED, None, spec)
    if os.path.isdir(path):
        model_path = os.path.join(path, "model.keras")
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"weights={path!r} is a directory without model.keras.")
        return Source(KERAS_MODEL, model_path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"weights={path!r}: no such file, workdir or registered tag "
            "(keras_resnet.weights.list_weights() lists the tags)."
        )
    return Source(file_kind(path), path)


def file_kind(path: str) -> str:
    if path.endswith(".keras"):
        return KERAS_MODEL
    if path.endswith(TORCH_SUFFIXES):
        return TORCHVISION
    if path.endswith(".h5"):
        ka = keras_applications.is_keras_applications_file(path)
        return KERAS_APPLICATIONS if ka else KERAS_WEIGHTS
    raise ValueError(
        f"Unsupported weights file {path!r}; expected .pth, .pt, .safetensors, .npz, .h5, "
        ".weights.h5, .keras or a training workdir."
    )


def layout(source: Source | None) -> str | None:
    """The layout the source's weights fill (None: whatever the model is)."""
    if source is None:
        return None
    if source.spec is not None:
        return source.spec.layout
    return "v1.5" if source.kind == TORCHVISION else None


def _own_h5_classes(path: str) -> int | None:
    """Classifier width of one of our `.weights.h5` files (None: saved without the top)."""
    import h5py

    with h5py.File(path, "r") as f:
        for name, group in f.get("layers", {}).items():
            kernel = group.get("vars", {}).get("0")
            if name.startswith("dense") and kernel is not None and kernel.ndim == 2:
                return int(kernel.shape[1])
    return None


def _file_classes(kind: str, path: str) -> int | None:
    if kind == TORCHVISION:
        state = torchvision_weights.read_state_dict(path)
        return int(state["fc.weight"].shape[0]) if "fc.weight" in state else None
    if kind == KERAS_APPLICATIONS:
        return 1000 if keras_applications.file_has_top(path) else None
    return _own_h5_classes(path)


def _classes(model: keras.Model) -> int | None:
    try:
        return int(model.get_layer(HEAD).units)
    except ValueError:
        return None


def copy_by_name(donor: keras.Model, model: keras.Model, skip: tuple[str, ...] = ()) -> None:
    """Sets every weighted layer of `model` but `skip` from `donor`'s layer of the same name.
    A donor saved before models had a `preprocess` layer leaves `model`'s at the identity,
    which is what such a model was trained with."""
    pending = []
    for layer in model.layers:
        if not layer.weights or layer.name in skip:
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


def _donor(build, classes: int | None) -> keras.Model:
    return build(num_classes=classes, include_top=classes is not None)


def _fill(donor: keras.Model, kind: str, path: str) -> None:
    if kind == TORCHVISION:
        torchvision_weights.load_torchvision(donor, path)
    elif kind == KERAS_APPLICATIONS:
        keras_applications.load_keras_applications(donor, path)
    else:
        donor.load_weights(path)


def _file_donor(kind: str, path: str, build, model: keras.Model) -> keras.Model:
    if kind == KERAS_MODEL:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    classes = _file_classes(kind, path)
    # The same head: the model itself is filled, with no second model built.
    donor = model if classes is not None and classes == _classes(model) else _donor(build, classes)
    _fill(donor, kind, path)
    return donor


def _registered_donor(spec: WeightSpec, build) -> keras.Model:
    """The spec's weights in a model with the file's head: from the converted cache, or
    fetched, verified, converted and cached there."""
    donor = _donor(build, spec.num_classes)
    converted = store.converted_path(spec)
    if os.path.exists(converted):
        donor.load_weights(converted)
        return donor
    path = store.fetch(spec)
    kind = file_kind(path)
    if kind == KERAS_MODEL:
        raise ValueError(f"weights {spec.tag!r}: a .keras file cannot be registered; save_weights.")
    _fill(donor, kind, path)
    os.makedirs(os.path.dirname(converted), exist_ok=True)
    # Keras wants the .weights.h5 suffix; the atomic write makes the cache entry appear whole
    # or not at all (keras_resnet.storage.atomic: temporary file, fsync, rename).
    tmp = os.path.join(os.path.dirname(converted), f".tmp-{os.getpid()}.weights.h5")
    atomic.atomic_write(converted, donor.save_weights, tmp=tmp)
    logger.info(f"weights {spec.tag!r} converted once, cached at {converted}")
    return donor


def load(model: keras.Model, source: Source, build) -> keras.Model:
    """Fills `model` from `source`; `build(num_classes=, include_top=)` makes a donor model of
    the same architecture with another head."""
    if source.kind == REGISTERED:
        donor = _registered_donor(source.spec, build)
        where = source.spec.tag
    else:
        donor = _file_donor(source.kind, source.path, build, model)
        where = source.path
        if donor is model:
            return model
    theirs, ours = _classes(donor), _classes(model)
    skip: tuple[str, ...] = ()
    if ours is not None and theirs != ours:
        skip = (HEAD,)
        logger.info(
            f"weights {where!r} have {'no classifier' if theirs is None else f'{theirs} classes'}"
            f"; the model has {ours}: pretrained backbone, fresh {ours}-class head"
        )
    copy_by_name(donor, model, skip)
    return model
