"""keras_resnet: the paper-exact Keras 3 implementation of He et al., "Deep Residual Learning for
Image Recognition" (2015).

    import keras_resnet
    model = keras_resnet.create_model("resnet50")
    keras_resnet.list_models()
"""

from keras_resnet.flops import count_flops
from keras_resnet.registry import ModelSpec, get_spec, list_models, register_model
from keras_resnet import weights
from keras_resnet.resnet import build_resnet, create_model

__version__ = "0.1.0"

__all__ = [
    "ModelSpec",
    "build_resnet",
    "count_flops",
    "create_model",
    "get_spec",
    "list_models",
    "register_model",
    "weights",
]
