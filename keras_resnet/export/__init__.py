"""Export for serving: versioned SavedModels that TensorFlow Serving serves as they are, and
`.keras` app files (raw pixels in, probabilities out) that open with plain Keras.

    from keras_resnet import export
    export.export_model(model, "models/resnet20", export.Preprocessing(height=32, width=32))

`savedmodel` writes the model and its signatures, `preprocess` the in-graph image preprocessing,
`assets` TF Serving's config files and warm-up requests.
"""

from keras_resnet.export.savedmodel import (
    PREDICT_IMAGES,
    SERVING_DEFAULT,
    app_model,
    export_model,
    load_source,
    next_version,
)
from keras_resnet.export.served_inputs import Preprocessing

__all__ = [
    "PREDICT_IMAGES",
    "SERVING_DEFAULT",
    "Preprocessing",
    "app_model",
    "export_model",
    "load_source",
    "next_version",
]
