"""Pretrained weights, the public face: the registry, the cache and the converters.

    import keras_resnet
    keras_resnet.weights.list_weights()            # "resnet18.tv_in1k", "resnet50.keras_in1k", ...
    keras_resnet.weights.register("resnet50.acme", url="https://models.acme/r50.pth",
                                  file_hash="1a2b3c4d", model="resnet50", layout="v1.5",
                                  normalization="torch")
    model = keras_resnet.create_model("resnet50", weights="resnet50.acme")

The specs and downloads live in keras_resnet.hub (which knows no model), the converters in
keras_resnet.models; this package only gathers them under one name (docs/weights.md).
"""

from keras_resnet.hub.catalog import IMAGENET, get, list_weights, register
from keras_resnet.hub.network import OFFLINE_ENV, offline
from keras_resnet.hub.specs import WeightSpec
from keras_resnet.hub.store import (
    MIRROR_ENV,
    WeightsUnavailable,
    cache_dir,
    cached_path,
    converted_path,
    fetch,
)
from keras_resnet.models.keras_applications import load_keras_applications
from keras_resnet.models.torchvision_weights import load_torchvision, read_state_dict

__all__ = [
    "IMAGENET",
    "MIRROR_ENV",
    "OFFLINE_ENV",
    "WeightSpec",
    "WeightsUnavailable",
    "cache_dir",
    "cached_path",
    "converted_path",
    "fetch",
    "get",
    "list_weights",
    "load_keras_applications",
    "load_torchvision",
    "offline",
    "read_state_dict",
    "register",
]
