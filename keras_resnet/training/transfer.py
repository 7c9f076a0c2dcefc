"""Starting a run from pretrained weights (`init_from`) and freezing the backbone.

Freezing follows keras.io's transfer-learning guide, which also avoids the classic mistake of
keras issues #9214 / #9965: a frozen layer is `trainable = False`, and for BatchNormalization
that also means inference mode, so its moving mean and variance never change (Keras 3; the
fused kernel in keras_resnet.models.fused_bn obeys the same flag). Keras sums the
regularisation losses over trainable weights only, so frozen kernels leave the L2 term too.

Every BN layer stays frozen while `freeze_backbone` is on, the unfrozen top stages included:
a small fine-tuning batch would otherwise overwrite statistics gathered on ImageNet.
"""

from __future__ import annotations

import logging
import os
import re

import keras

from keras_resnet.hub import store
from keras_resnet.models import preprocess_layer, pretrained
from keras_resnet.models.resnet import create_model

logger = logging.getLogger(__name__)
HEAD = pretrained.HEAD


def _stage(layer_name: str) -> int | None:
    m = re.match(r"stage(\d+)_", layer_name)
    return int(m[1]) if m else None


def freeze_backbone(model: keras.Model, unfreeze_stages: int = 0) -> list[str]:
    """Freezes every weighted layer but the head and the top `unfreeze_stages` stages' convs;
    all BN layers stay frozen. Returns the names of the layers left trainable."""
    stages = sorted({s for la in model.layers if (s := _stage(la.name)) is not None})
    if not 0 <= unfreeze_stages <= len(stages):
        raise ValueError(
            f"unfreeze_stages must be in [0, {len(stages)}] for {model.name!r}, got "
            f"{unfreeze_stages!r}."
        )
    top = set(stages[len(stages) - unfreeze_stages :])
    trainable = []
    for layer in model.layers:
        if not layer.weights:
            continue
        keep = layer.name == HEAD or (
            _stage(layer.name) in top and not isinstance(layer, keras.layers.BatchNormalization)
        )
        layer.trainable = keep
        if keep:
            trainable.append(layer.name)
    logger.info(
        f"backbone frozen (BN in inference mode): {len(trainable)} trainable layer(s), "
        f"{'the head' if not top else f'the head and stage(s) {sorted(top)}'}"
    )
    return trainable


def brings_normalization(init_from: str | None, model: str) -> bool:
    """Whether the weights `init_from` make the model take raw 0-255 pixels (converted
    weights carry their own normalisation), so the pipeline must not subtract its mean."""
    if not init_from:
        return False
    source = pretrained.classify(init_from, model)
    if source.kind == pretrained.REGISTERED and source.spec.normalization != "model":
        return True
    if source.kind in (pretrained.TORCHVISION, pretrained.KERAS_APPLICATIONS):
        return True
    # Our own files and workdirs: raw pixels if the run they come from started from such
    # weights, which their `preprocess` layer records.
    return preprocess_layer.takes_raw_pixels(create_model(model, weights=init_from))


def eval_transform(init_from: str | None, model: str) -> tuple[int, int] | None:
    """(resize, crop) the registered weights were evaluated with; None for files."""
    if not init_from:
        return None
    source = pretrained.classify(init_from, model)
    return (source.spec.resize, source.spec.crop) if source.spec is not None else None


def prefetch(init_from: str | None, model: str) -> None:
    """Downloads a registered `init_from` before the run writes anything, so that a failed
    download (offline, a wrong hash) refuses the run and leaves the workdir as it was."""
    if not init_from:
        return
    source = pretrained.classify(init_from, model)
    if source.spec is not None and not os.path.exists(store.converted_path(source.spec)):
        store.fetch(source.spec)
