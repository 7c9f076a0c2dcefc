"""A training config's data source: the one place where a model meets its data.

`keras_resnet.data` knows datasets and pipelines but no model; the registry knows models but no
data. Training, evaluation and the analysis tools all read a run's data through here, so they
see it preprocessed the same way.
"""

from __future__ import annotations

from keras_resnet import data
from keras_resnet.models import registry


def source_for_config(config) -> data.Source:
    """The source of a training config: its dataset, preprocessed the way its model family
    expects where the dataset leaves that open (image folders, synthetic data)."""
    spec = registry.get_spec(config.model)
    return data.load_source(
        config.dataset,
        model_style=data.IMAGENET if spec.family == registry.IMAGENET else data.SMALL,
        model_classes=spec.default_num_classes,
        data_dir=config.data.get("data_dir"),
        manual_dir=config.data.get("manual_dir"),
    )
