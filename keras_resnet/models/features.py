"""Multi-scale features for detection and segmentation heads.

`feature_pyramid(model)` exposes the output of each stage's last residual block, the C2..C5 of
Lin et al.'s Feature Pyramid Networks (2017), keyed `"P<level>"` where the stride is 2**level,
as keras-hub's backbones name their `pyramid_outputs`: for ImageNet nets the paper's conv2_x ..
conv5_x at strides 4, 8, 16 and 32 (Table 1) are P2..P5. CIFAR nets (Section 4.2) have three
stages at strides 1, 2 and 4: P0..P2.
"""

from __future__ import annotations

import re

import keras


def _last_block_outputs(model: keras.Model) -> dict[int, str]:
    """{stage: name of its last block's output layer}."""
    last: dict[int, tuple[int, str]] = {}
    for layer in model.layers:
        if m := re.fullmatch(r"stage(\d+)_block(\d+)_out", layer.name):
            stage, block = int(m[1]), int(m[2])
            if block > last.get(stage, (0, ""))[0]:
                last[stage] = (block, layer.name)
    return {stage: name for stage, (_, name) in sorted(last.items())}


def feature_pyramid(model: keras.Model) -> keras.Model:
    """A model from `model`'s input to a dict {"P2": ..., "P5": ...} of its stage outputs.

    The new model shares `model`'s layers and weights (training one trains the other).

    Args:
      model: a `keras_resnet.create_model` network, with or without its top.
    """
    stages = _last_block_outputs(model)
    if not stages:
        raise ValueError(
            f"Model {model.name!r} has no 'stage<N>_block<M>_out' layers; feature_pyramid "
            "takes a keras_resnet.create_model network."
        )
    # ImageNet stages are numbered 2-5 after the paper's conv2_x..conv5_x, and stage N has
    # stride 2**N. CIFAR stages are 1-3 with strides 1, 2, 4: level = stage - 1.
    offset = 0 if min(stages) == 2 else 1
    outputs = {f"P{stage - offset}": model.get_layer(name).output for stage, name in stages.items()}
    return keras.Model(model.input, outputs, name=f"{model.name}_pyramid")
