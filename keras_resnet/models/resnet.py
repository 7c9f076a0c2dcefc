"""Builds a Keras functional ResNet (or plain net) from a `ModelSpec`.

`create_model(name, **overrides)` is the public entry point; `build_resnet` does the wiring.
"""

from __future__ import annotations

import sys

import keras

from keras_resnet.models import preprocess_layer, pretrained, registry
from keras_resnet.models.blocks import conv_bn, residual_block

POOLINGS = (None, "avg", "max")


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
    pooling: str | None = None,
    classifier_activation: str | None = None,
    name: str | None = None,
    input_tensor=None,
) -> keras.Model:
    """Returns the functional model for `spec`. See `create_model` for the arguments."""
    if pooling not in POOLINGS or (include_top and pooling == "max"):
        allowed = "None or 'avg' with include_top=True" if include_top else f"one of {POOLINGS}"
        raise ValueError(f"pooling must be {allowed}, got {pooling!r}.")
    if classifier_activation is not None:
        if not include_top or not isinstance(classifier_activation, str):
            raise ValueError(
                "classifier_activation must be None or an activation name, and needs "
                f"include_top=True; got {classifier_activation!r} with include_top={include_top}."
            )
        keras.activations.get(classifier_activation)  # ValueError naming an unknown one
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                f"input_tensor must be a Keras tensor (keras.Input or a layer's output), got "
                f"{type(input_tensor).__name__}."
            )
        input_shape = tuple(input_tensor.shape[1:])
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

    if input_tensor is None:
        inputs = keras.Input(shape=input_shape, name="images")
        x = inputs
    else:  # keras.applications' input_tensor: the model starts where the tensor's graph does
        inputs, x = keras.utils.get_source_inputs(input_tensor), input_tensor
    # Identity unless converted weights set it (keras_resnet.models.preprocess_layer).
    x = preprocess_layer.preprocess_layer()(x)
    x = _stem(x, spec.family, regularizer)
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
    # The paper's head (Table 1): global average pooling, then the classifier. Without the top,
    # pooling=None keeps the last feature map, (N, H/32, W/32, C) for ImageNet nets, for
    # detection and segmentation heads (keras.applications' convention).
    if include_top or pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    if include_top:
        # The classifier runs in float32 under a mixed-precision policy, so logits (and the loss
        # computed from them) keep full precision. Its kernel keeps Keras' Glorot-uniform and a
        # zero bias, as keras.applications does: the paper's He init [13] is stated for the
        # conv layers, and the reference implementations differ here too (torchvision and
        # fb.resnet.torch: U(+-1/sqrt(fan_in)) weights).
        x = keras.layers.Dense(
            num_classes, kernel_regularizer=regularizer, dtype="float32", name="logits"
        )(x)
        if classifier_activation is not None:
            x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(
                x
            )
    return keras.Model(inputs, x, name=name or spec.name)


def create_model(
    name: str,
    include_top: bool = True,
    weights=None,
    input_shape=None,
    pooling: str | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = None,
    *,
    classes: int | None = None,
    input_tensor=None,
    shortcut: str | None = None,
    variant: str | None = None,
    **overrides,
) -> keras.Model:
    """Builds a registered ResNet by name (`keras_resnet.list_models()` lists them), with
    keras.applications' arguments beside the paper's options.

    Args:
      name: e.g. "resnet50", "plain34", "resnet110", or any CIFAR depth 6n+2 ("resnet164").
      include_top: the pooled classifier. False: the network up to its last stage, pooled by
        `pooling`.
      weights: None (random, the paper's init); "imagenet" (the depth's default published
        weights, docs/weights.md) or another registered tag (`keras_resnet.weights.
        list_weights()`), downloaded once into the cache under $KERAS_HOME; or a local file:
        torchvision's `.pth` / `.safetensors` / `.npz` (builds variant "v1.5" unless told
        otherwise), keras.applications' ResNet50/101/152 `.h5` / `.weights.h5` (the paper's
        Caffe models, v1), this package's own `.weights.h5` or `.keras`, or a training
        workdir. Converted weights bring their input normalisation: the model then takes raw
        0-255 RGB pixels. With another `num_classes` than the weights', the backbone is
        loaded and the classifier starts fresh.
      input_shape: (H, W, C); (224, 224, 3) or (32, 32, 3) by default. Use (None, None, 3) for
        fully-convolutional multi-scale testing.
      pooling: without the top, None returns the last feature map (N, H/32, W/32, C) for
        ImageNet nets, "avg" / "max" pool it to (N, C).
      num_classes: classifier width; 1000 for ImageNet nets, 10 for CIFAR nets by default.
      classifier_activation: None (the default) outputs logits; "softmax" probabilities.
      classes: keras.applications' name for `num_classes`.
      input_tensor: a Keras tensor to build the model on (keras.applications' argument).
      shortcut: "A", "B" or "C" (paper Section 3.3). B for ImageNet nets, A for CIFAR nets.
      variant: "v1" (the paper: bottleneck stride on the first 1x1) or "v1.5" (torchvision).
      **overrides: `weight_decay` (coupled L2, as in the paper), `name`.

    Returns:
      An uncompiled `keras.Model`.
    """
    spec = registry.get_spec(name)
    unknown = set(overrides) - {"weight_decay", "name"}
    if unknown:
        raise ValueError(
            f"Unknown create_model argument(s) {sorted(unknown)}; valid ones are include_top, "
            "weights, input_shape, pooling, num_classes, classifier_activation, shortcut, "
            "variant, weight_decay, name."
        )
    if classes is not None:
        if num_classes is not None and num_classes != classes:
            raise ValueError(
                f"classes={classes!r} and num_classes={num_classes!r} disagree; pass one of them."
            )
        num_classes = classes
    wants_top = include_top and num_classes in (None, spec.default_num_classes)
    source = pretrained.classify(weights, spec.name, include_top=wants_top)
    needed = pretrained.layout(source)
    if needed is not None and variant not in (None, needed):
        raise ValueError(
            f"weights={weights!r} fill the {needed!r} layout, but variant={variant!r}: pass "
            f"variant={needed!r} or leave it unset."
        )
    variant = variant or needed
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(getattr(input_tensor, "shape", (None,))[1:]) or None

    def build(**kwargs) -> keras.Model:
        return build_resnet(
            spec, input_shape=input_shape, shortcut=shortcut, variant=variant, **overrides, **kwargs
        )

    model = build(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        input_tensor=input_tensor,
    )
    if source is not None:
        pretrained.load(model, source, build)
    return model
