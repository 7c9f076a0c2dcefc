"""keras_resnet: the paper-exact Keras 3 implementation of He et al., "Deep Residual Learning for
Image Recognition" (2015).

    import keras_resnet
    model = keras_resnet.create_model("resnet50")
    keras_resnet.list_models()

The public names are imported lazily (PEP 562), so that `import keras_resnet` costs nothing and
the command-line tools (keras_resnet.cli) can silence TensorFlow's start-up logging before
TensorFlow is first imported, keeping a user error to one line.

The package's parts, one subpackage each (the README's Layout section has the whole tree):
models (registry, blocks, weights import), weights (pretrained weights: the public face of
hub, the published specs and the download cache), data (input pipelines), imaging (resize, crop,
normalisation and class names, shared by training, evaluation and export), configs (the paper's
recipes), training, evaluation, export, bench, storage (crash-safe writes), cli (entry points).
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ModelSpec": "keras_resnet.models.registry",
    "get_spec": "keras_resnet.models.registry",
    "list_models": "keras_resnet.models.registry",
    "register_model": "keras_resnet.models.registry",
    "build_resnet": "keras_resnet.models.resnet",
    "create_model": "keras_resnet.models.resnet",
    "count_flops": "keras_resnet.models.flops",
    "feature_pyramid": "keras_resnet.models.features",
    "preprocess_input": "keras_resnet.imaging.pixel_normalization",
    "decode_predictions": "keras_resnet.imaging.classes",
    "imagenet_class_names": "keras_resnet.imaging.classes",
    "use_fused_batchnorm": "keras_resnet.models.fused_bn",
    "use_remat": "keras_resnet.models.remat",
    "train_and_evaluate": "keras_resnet.training.train",
    "export_model": "keras_resnet.export.savedmodel",
    "UserError": "keras_resnet.errors",
}
# Short names for submodules users reach for: keras_resnet.weights.register(...).
_SUBMODULES = {
    "weights": "keras_resnet.weights",
    "analysis": "keras_resnet.evaluation.analysis",
    "data": "keras_resnet.data",
    "configs": "keras_resnet.configs",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    else:
        raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return __all__
