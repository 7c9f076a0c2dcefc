"""Input pipelines for keras_resnet: TFDS CIFAR and ImageNet, image folders, digits, synthetic.

source = data.load_source("cifar10", model_style=data.SMALL, model_classes=10)
ds = data.build(source, data.PipelineSettings(batch_size=128), workdir="runs/x")  # .train ...
"""

from keras_resnet.data.pipeline import (
    MEAN_FILE,
    Datasets,
    PipelineSettings,
    build,
    compute_mean,
    split,
)
from keras_resnet.data.sources import (
    DATASETS,
    IMAGENET,
    SMALL,
    DatasetUnavailable,
    Source,
    load_source,
)

__all__ = [
    "DATASETS",
    "IMAGENET",
    "MEAN_FILE",
    "SMALL",
    "DatasetUnavailable",
    "Datasets",
    "PipelineSettings",
    "Source",
    "build",
    "compute_mean",
    "load_source",
    "split",
]
