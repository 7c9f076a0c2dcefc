"""The inference graph for export: BatchNormalization folded into the convolution before it,
optionally computing in bfloat16 or float16.

Why fold: in inference BN is a fixed per-channel affine map, `gamma * (y - mean) / sqrt(var +
eps) + beta`. Applied to a convolution's output `y = x * W + b` it equals a convolution with
kernel `W * s` and bias `(b - mean) * s + beta`, where `s = gamma / sqrt(var + eps)`. Without
BN, TensorFlow's graph optimiser (grappler's remapper) fuses Conv2D + bias + ReLU, and the
residual Add too, into one `_FusedConv2D` (oneDNN on CPUs, cuDNN on GPUs); with Keras' BN in
between it can fuse nothing, and BN costs a pass over every activation.

Why lower precision: on CPUs with AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake) or AMX
(Intel Sapphire Rapids and later), oneDNN runs bfloat16 convolutions at up to twice (AMX: many
times) the float32 rate; GPUs with tensor cores (NVIDIA Volta and later for float16, Ampere and
later for bfloat16) gain the same way. Elsewhere bfloat16 is emulated and slower than float32.

The folded model is a new functional model with the same layer names minus the folded BN
layers, made of standard Keras layers only (conv layers gain `use_bias=True`), so a `.keras`
file of it opens with plain `keras.models.load_model(path, safe_mode=True)`.
"""

from __future__ import annotations

import keras
import numpy as np

PRECISIONS = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}
_PREPROCESSING = (keras.layers.Normalization, keras.layers.Rescaling)


def _graph_nodes(model):
    # Keras keeps a functional model's call graph in `_nodes_by_depth` (no public accessor);
    # `clone_model` walks the same structure.
    return [node for nodes in model._nodes_by_depth.values() for node in nodes]


def foldable_pairs(model: keras.Model) -> dict:
    """{BN layer name: conv layer} for each BN whose only input is a Conv2D output read by
    nothing else (folding changes that output, so no other layer may see it)."""
    nodes = _graph_nodes(model)
    readers: dict = {}
    calls: dict = {}
    for node in nodes:
        if node.operation is not None:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
        for x in node.input_tensors:
            readers[id(x)] = readers.get(id(x), 0) + 1
    for x in model.outputs:
        readers[id(x)] = readers.get(id(x), 0) + 1
    pairs = {}
    for node in nodes:
        bn = node.operation
        if not isinstance(bn, keras.layers.BatchNormalization) or len(node.input_tensors) != 1:
            continue
        x = node.input_tensors[0]
        conv = x._keras_history.operation
        if (
            type(conv) is keras.layers.Conv2D  # not a subclass: its maths may differ
            and conv.data_format == "channels_last"
            and conv.activation is keras.activations.linear
            and bn.axis in (-1, 3)
            and readers[id(x)] == 1
            and calls[id(conv)] == 1
            and calls[id(bn)] == 1
        ):
            pairs[bn.name] = conv
    return pairs


def folded_conv_weights(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of the convolution that equals `bn(conv(x))` in inference."""
    weights = conv.get_weights()
    kernel = weights[0].astype(np.float64)
    bias = weights[1].astype(np.float64) if conv.use_bias else np.zeros(kernel.shape[-1])
    channels = kernel.shape[-1]
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else np.ones(channels)
    beta = np.asarray(bn.beta, np.float64) if bn.center else np.zeros(channels)
    mean = np.asarray(bn.moving_mean, np.float64)
    var = np.asarray(bn.moving_variance, np.float64)
    # In float64, then rounded once: the folded net matches the unfolded one to float32 noise.
    scale = gamma / np.sqrt(var + bn.epsilon)
    return (kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}.")
    return PRECISIONS[precision]


def inference_model(model: keras.Model, precision: str = "float32") -> keras.Model:
    """`model` with every foldable BN folded into its convolution, computing in `precision`
    ("float32", "bfloat16" or "float16", weights stored in it too). Inputs and outputs stay
    float32: the input normalisation and the layers that produce the outputs (the classifier)
    compute in float32. The weights are copied: `model` is not changed."""
    policy = _check_precision(precision)
    pairs = foldable_pairs(model)
    folded_bns = set(pairs)
    folded_convs = {conv.name: model.get_layer(bn) for bn, conv in pairs.items()}
    # The classifier and input preprocessing stay float32: logits keep full precision, and
    # bfloat16 holds 0-255 pixel values only to within ~1 unit. Both cost next to nothing.
    float32_layers = {x._keras_history.operation.name for x in model.outputs} | {
        layer.name for layer in model.layers if isinstance(layer, _PREPROCESSING)
    }

    def clone(layer):
        if layer.name in folded_bns:
            return layer  # never called: `call` below skips it
        config = layer.get_config()
        cls = layer.__class__
        if isinstance(layer, keras.layers.BatchNormalization):
            cls = keras.layers.BatchNormalization  # a BN left unfolded is a plain one, even fused
        if layer.name in folded_convs:
            config["use_bias"] = True
        if "dtype" in config:
            config["dtype"] = "float32" if layer.name in float32_layers else policy
        return cls.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in folded_bns:
            return args[0]
        return layer(*args, **kwargs)

    # ResNet-1202's graph is walked recursively, like create_model's (which raised the limit).
    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for layer in folded.layers:
        if layer.name in folded_convs:
            original = model.get_layer(layer.name)
            layer.set_weights(folded_conv_weights(original, folded_convs[layer.name]))
        elif layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
        # Normalization computes from constants snapshotted from its variables here (Keras
        # does this itself after loading a file, not after set_weights).
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()
    return folded
