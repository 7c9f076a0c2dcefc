"""Builds a Keras functional ResNet (or plain net) from a `ModelSpec`.

`create_model(name, **overrides)` is the public entry point; `build_resnet` does the wiring.
"""

from __future__ import annotations

import sys

import keras

from keras_resnet.models import registry
from keras_resnet.models.blocks import conv_bn, residual_block


def _stem(x, family, regularizer):
    if family == registry.IMAGENET:
        # Table 1, conv1: 7x7/2, 64 filters, then a 3x3/2 max-pool. Zero padding before the pool
        # equals torch's -inf padding because the ReLU output is never negative.
        x = conv_bn(x, 64, 7, 2, "stem", regularizer=regularizer)
        x = keras.layers.ReLU(name="stem_relu")(x)
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
        return keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    # Section 4.2: the first layer is a 3x3 conv with 16 filters on the 32x32 image.
    x = conv_bn(x, 16, 3, 1, "stem", regularizer=regularizer)
    return keras.layers.ReLU(name="stem_relu")(x)


def _stage_layout(spec):
    """(stage number, output width, first stride) per stage.

    ImageNet stages are numbered 2-5 like the paper's conv2_x..conv5_x (Table 1); CIFAR stages
    1-3 hold the 16/32/64-filter maps of Section 4.2.
    """
    if spec.family == registry.IMAGENET:
        expansion = 4 if spec.block == "bottleneck" else 1
        widths = [64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion]
        return [(i + 2, w, 1 if i == 0 else 2) for i, w in enumerate(widths)]
    return [(i + 1, w, 1 if i == 0 else 2) for i, w in enumerate([16, 32, 64])]


def build_resnet(
    spec: registry.ModelSpec,
    *,
    num_classes: int | None = None,
    input_shape=None,
    shortcut: str | None = None,
    variant: str | None = None,
    weight_decay: float = 0.0,
    include_top: bool = True,
    name: str | None = None,
) -> keras.Model:
    """Returns the functional model for `spec`. See `create_model` for the arguments."""
    num_classes = spec.default_num_classes if num_classes is None else num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    input_shape = tuple(spec.default_input_shape if input_shape is None else input_shape)
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(
            f"input_shape must be (height, width, channels) with known channels, got {input_shape!r}."
        )
    if spec.residual:
        shortcut = spec.default_shortcut if shortcut is None else str(shortcut).upper()
        if shortcut not in registry.SHORTCUTS:
            raise ValueError(f"shortcut must be one of {registry.SHORTCUTS}, got {shortcut!r}.")
    elif shortcut is not None:
        raise ValueError(
            f"Plain net {spec.name!r} has no shortcuts, got shortcut={shortcut!r}; "
            "leave it unset or use the matching 'resnet' model."
        )
    variant = "v1" if variant is None else variant
    if variant not in registry.VARIANTS:
        raise ValueError(f"variant must be one of {registry.VARIANTS}, got {variant!r}.")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")
    # The paper's weight decay is the coupled L2 term: lambda * w added to the gradient, which is
    # the gradient of (lambda / 2) * ||w||^2. Keras' L2(l) adds l * ||w||^2, hence the halving.
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None

    # Keras walks the functional graph recursively (keras.src.ops.function._build_map), about
    # one Python frame per layer on the longest path: ResNet-1202 has ~6,000 such layers, far
    # past Python's default limit of 1,000.
    needed = 20 * spec.depth + 1000
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)

    inputs = keras.Input(shape=input_shape, name="images")
    x = _stem(inputs, spec.family, regularizer)
    for (stage, width, first_stride), blocks in zip(_stage_layout(spec), spec.stage_sizes):
        for b in range(blocks):
            x = residual_block(
                x,
                width,
                first_stride if b == 0 else 1,
                spec.block,
                f"stage{stage}_block{b + 1}",
                shortcut if spec.residual else None,
                variant=variant,
                regularizer=regularizer,
            )
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        # The classifier runs in float32 under a mixed-precision policy, so logits (and the loss
        # computed from them) keep full precision.
        x = keras.layers.Dense(
            num_classes, kernel_regularizer=regularizer, dtype="float32", name="logits"
        )(x)
    return keras.Model(inputs, x, name=name or spec.name)


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    input_shape=None,
    shortcut: str | None = None,
    variant: str | None = None,
    **overrides,
) -> keras.Model:
    """Builds a registered ResNet by name (`keras_resnet.list_models()` lists them).

    Args:
      name: e.g. "resnet50", "plain34", "resnet110", or any CIFAR depth 6n+2 ("resnet164").
      num_classes: classifier width; 1000 for ImageNet nets, 10 for CIFAR nets by default.
      input_shape: (H, W, C); (224, 224, 3) or (32, 32, 3) by default. Use (None, None, 3) for
        fully-convolutional multi-scale testing.
      shortcut: "A", "B" or "C" (paper Section 3.3). B for ImageNet nets, A for CIFAR nets.
      variant: "v1" (the paper: bottleneck stride on the first 1x1) or "v1.5" (torchvision).
      **overrides: `weight_decay` (coupled L2, as in the paper), `include_top`, `name`.

    Returns:
      An uncompiled `keras.Model` that outputs logits.
    """
    spec = registry.get_spec(name)
    unknown = set(overrides) - {"weight_decay", "include_top", "name"}
    if unknown:
        raise ValueError(
            f"Unknown create_model argument(s) {sorted(unknown)}; valid overrides are "
            "num_classes, input_shape, shortcut, variant, weight_decay, include_top, name."
        )
    return build_resnet(
        spec,
        num_classes=num_classes,
        input_shape=input_shape,
        shortcut=shortcut,
        variant=variant,
        **overrides,
    )
