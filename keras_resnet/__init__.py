"""keras_resnet: the paper-exact Keras 3 implementation of He et al., "Deep Residual Learning for
Image Recognition" (2015).

    import keras_resnet
    model = keras_resnet.create_model("resnet50")
    keras_resnet.list_models()

The public names are imported lazily (PEP 562), so that `python -m keras_resnet.<tool>` can
silence TensorFlow's start-up logging before TensorFlow is first imported, and a user error
stays one line.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ModelSpec": "keras_resnet.registry",
    "get_spec": "keras_resnet.registry",
    "list_models": "keras_resnet.registry",
    "register_model": "keras_resnet.registry",
    "build_resnet": "keras_resnet.resnet",
    "create_model": "keras_resnet.resnet",
    "count_flops": "keras_resnet.flops",
    "use_fused_batchnorm": "keras_resnet.fused_bn",
}
_SUBMODULES = ("weights", "analysis", "data")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"keras_resnet.{name}")
    else:
        raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return __all__
