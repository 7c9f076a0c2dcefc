"""Residual and plain building blocks, made only of standard Keras layers.

Every block is a small function over functional-API tensors with deterministic layer names
(`stage3_block2_conv1`). Only standard layers are used, never `Lambda` or custom classes, so a
saved `.keras` file opens with plain `keras.models.load_model` in safe mode, without this package.
"""

from __future__ import annotations

import keras

# BN momentum 0.9 and epsilon 1e-5 are PyTorch's defaults (torch's momentum=0.1 is 1 - 0.9), so
# converted torchvision weights reproduce torch's outputs. The paper (Section 3.4) puts BN right
# after each convolution and before the activation.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# He et al. 2015 ("Delving deep into rectifiers", the paper's ref. [13]) draw weights from an
# untruncated Gaussian with std sqrt(2 / fan_in). Keras' "he_normal" is truncated; this is exact.
HE_NORMAL = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_in", "distribution": "untruncated_normal"},
}


def conv_bn(x, filters, kernel_size, strides, name, suffix="", regularizer=None):
    """Conv (no bias: BN follows) then BN, named `<name>_conv<suffix>` and `<name>_bn<suffix>`.

    Keras' `padding="same"` pads a strided conv asymmetrically (more at the bottom/right), which
    shifts the sampling grid by one pixel against Caffe/torch. An explicit symmetric
    `ZeroPadding2D` followed by a "valid" conv samples the same pixels as the paper's nets, and
    is what lets converted torchvision weights reproduce torch's logits.
    """
    pad = (kernel_size - 1) // 2
    padding = "same"
    if strides > 1 and pad > 0:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad{suffix}")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=HE_NORMAL,
        kernel_regularizer=regularizer,
        name=f"{name}_conv{suffix}",
    )(x)
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn{suffix}"
    )(x)


def shortcut(x, filters, strides, option, name, regularizer=None):
    """The identity path of a residual block (paper Section 3.3).

    A: parameter-free. Subsample by `strides` and zero-pad the new channels.
    B: 1x1 projection (conv + BN) only where the shape changes, identity elsewhere.
    C: 1x1 projection on every block.
    """
    in_filters = x.shape[-1]
    changes_shape = strides > 1 or in_filters != filters
    if option == "C" or (option == "B" and changes_shape):
        return conv_bn(x, filters, 1, strides, f"{name}_shortcut", regularizer=regularizer)
    if not changes_shape:
        return x
    if strides > 1:
        # A 1x1 pool with stride s keeps x[::s, ::s], the same pixels a strided 1x1 conv reads.
        x = keras.layers.MaxPooling2D(pool_size=1, strides=strides, name=f"{name}_shortcut_pool")(x)
    if filters > in_filters:
        # Zero channels appended at the end. ZeroPadding2D in "channels_first" mode treats an
        # NHWC tensor's last two axes (W, C) as its spatial axes, so padding ((0, 0), (0, k))
        # pads C alone: a standard layer, no Lambda, and spatial sizes may stay unknown.
        x = keras.layers.ZeroPadding2D(
            ((0, 0), (0, filters - in_filters)),
            data_format="channels_first",
            name=f"{name}_shortcut_zeropad",
        )(x)
    return x


def residual_block(
    x, filters, strides, block, name, shortcut_option, variant="v1", regularizer=None
):
    """One basic or bottleneck block. `shortcut_option=None` builds the plain (no shortcut) twin.

    The block ends in `Add()` then ReLU: the last ReLU comes after the addition (Figure 2).
    For bottlenecks, `filters` is the block's output width (4x the inner width, Figure 5).
    """

    if block == "basic":
        layers = [(filters, 3, strides), (filters, 3, 1)]
    elif block == "bottleneck":
        inner = filters // 4
        # v1 (the paper) strides on the first 1x1 conv; v1.5 (torchvision) on the 3x3, which
        # reads every input pixel instead of one in four and costs ~0.3 GFLOPs more for ResNet-50.
        s1, s2 = (strides, 1) if variant == "v1" else (1, strides)
        layers = [(inner, 1, s1), (inner, 3, s2), (filters, 1, 1)]
    else:
        raise ValueError(f"Unknown block type {block!r}; expected 'basic' or 'bottleneck'.")

    y = x
    for i, (f, k, s) in enumerate(layers, start=1):
        y = conv_bn(y, f, k, s, name, suffix=str(i), regularizer=regularizer)
        if i < len(layers):
            y = keras.layers.ReLU(name=f"{name}_relu{i}")(y)
    if shortcut_option is None:
        return keras.layers.ReLU(name=f"{name}_out")(y)
    sc = shortcut(x, filters, strides, shortcut_option, name, regularizer)
    y = keras.layers.Add(name=f"{name}_add")([sc, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)
