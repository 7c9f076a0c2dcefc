"""A training config's data: the one place where a model meets its data.

`keras_resnet.data` knows datasets and pipelines but no model and no config; the registry
knows models but no data. Training, evaluation and the analysis tools read a run's data
through here, so they see it preprocessed the same way. The model's spec is looked up once
per run, by the caller, and passed in.
"""

from __future__ import annotations

from keras_resnet import data
from keras_resnet.models import registry


def source_for_config(config, spec: registry.ModelSpec) -> data.Source:
    """The source of a training config: its dataset, preprocessed the way its model family
    (`spec`, the config's model) expects where the dataset leaves that open (image folders,
    synthetic data)."""
    return data.load_source(
        config.dataset,
        model_style=data.IMAGENET if spec.family == registry.IMAGENET else data.SMALL,
        model_classes=spec.default_num_classes,
        data_dir=config.data.get("data_dir"),
        manual_dir=config.data.get("manual_dir"),
    )


def pipeline_settings(config) -> data.PipelineSettings:
    """The fields of a run's config that its input pipelines use (keras_resnet.data.build)."""
    d = config.data
    return data.PipelineSettings(
        batch_size=int(config.batch_size),
        eval_batch_size=int(d.eval_batch_size or 0),
        val_split=int(d.val_split),
        scale=float(config.scale),
        seed=int(config.seed),
        shuffle_buffer=int(d.shuffle_buffer),
        mean_examples=int(d.mean_examples),
        image_size=int(d.image_size),
        eval_resize=int(d.eval_resize),
        scale_range=tuple(int(v) for v in d.scale_range),
        pca_lighting=bool(d.pca_lighting),
    )
