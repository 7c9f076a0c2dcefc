"""Activation recomputation (rematerialization) for training on TensorFlow, per residual block
or per stage, with standard layers on disk.

Why: backprop keeps every layer's output of a training step alive until the backward pass
reaches it; for ResNet-50 at 224x224 that is most of a step's memory (docs/performance.md,
"Training memory"). With `use_remat(model, "blocks")`, the forward pass keeps only each
segment's input (a block's, or a stage's, input) and throws the segment's inner activations
away; the backward pass runs the segment's forward again to get them back, one segment at a
time. Memory for activations falls to about one block's worth plus the boundaries, for about
one more forward pass of compute.

Why not `keras.RematScope`: it rematerializes one layer's `call` at a time. A Conv2D's or
BN's input is the previous layer's output, which the backward pass then keeps anyway, so per
layer it saves nothing on a conv net; the saving needs a segment of many layers.

Like `fused_bn`, this binds one `model`'s `call` (an instance attribute, Keras' own way for
`build`): the layers, config and variables do not change, so `.keras` files, exports and
inference are the same as without it. Inference (`training=False`) runs the standard call.
"""

from __future__ import annotations

import types

import keras
import tensorflow as tf

from keras_resnet.models import fused_bn

MODES = ("none", "blocks", "stages")


def _boundaries(model: keras.Model, mode: str) -> list[str]:
    """Names of the layers whose outputs end a segment: the stem, then every residual (or
    plain) block's output ReLU, or each stage's last one."""
    names = [layer.name for layer in model.layers]
    stem = [n for n in ("stem_pool", "stem_relu") if n in names][:1]
    blocks = [n for n in names if n.startswith("stage") and n.endswith("_out")]
    if not stem or not blocks:
        raise ValueError(
            f"recompute needs a keras_resnet ResNet (a stem and stageN_blockM_out layers); "
            f"{model.name!r} has neither."
        )
    if mode == "stages":  # the last block of each stage: the next name is another stage's
        blocks = [n for i, n in enumerate(blocks)
                  if i + 1 == len(blocks) or blocks[i + 1].split("_")[0] != n.split("_")[0]]  # fmt: skip
    return stem + blocks


def segments(model: keras.Model, mode: str) -> list[tuple[keras.Model, bool]]:
    """(sub-model, recomputed) pairs that chain from the model's input to its output. They
    share the model's layers (no copy of a weight); the head after the last block is small
    and is not recomputed."""
    cuts = [model.inputs[0]] + [model.get_layer(n).output for n in _boundaries(model, mode)]
    cuts.append(model.outputs[0])
    return [
        (keras.Model(a, b, name=f"{model.name}_segment{i}"), i + 2 < len(cuts))
        for i, (a, b) in enumerate(zip(cuts, cuts[1:]))
    ]


def _recomputed(segment: keras.Model):
    """`segment(x, training=True)` whose backward pass recomputes its activations from `x`.

    Not `tf.recompute_grad`: its recomputation also re-runs BN's moving-average update, so
    every BN would move its statistics twice per step (momentum 0.81 instead of 0.9)."""

    @tf.custom_gradient
    def run(x):
        y = segment(x, training=True)

        def grad(dy, variables=None):
            # The recomputation reads only `x` and the weights: without this dependency on
            # `dy` the executor may run it during the forward pass, as soon as `x` exists,
            # and hold its activations until the backward pass, which saves nothing.
            with tf.control_dependencies([dy]):
                x_again = tf.identity(x)
            with fused_bn.frozen_statistics(), tf.GradientTape() as tape:
                tape.watch(x_again)
                y_again = segment(x_again, training=True)
            variables = list(variables or [])
            dx, dvars = tape.gradient(
                y_again,
                (x_again, variables),
                output_gradients=dy,
                unconnected_gradients=tf.UnconnectedGradients.ZERO,  # the moving statistics
            )
            return dx, dvars

        return y, grad

    return run


def use_remat(model: keras.Model, mode: str) -> keras.Model:
    """Makes `model`'s training steps recompute activations per segment (`mode` "blocks" or
    "stages"; "none" leaves the model as it is), in place; call it before the first training
    step traces the model. TensorFlow backend, with `use_fused_batchnorm` applied first."""
    if mode not in MODES:
        raise ValueError(f"remat must be one of {', '.join(MODES)}, got {mode!r}.")
    if mode == "none":
        return model
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"remat={mode!r} needs the TensorFlow backend.")
    unfused = [layer.name for layer in fused_bn.batchnorm_layers(model)
               if not fused_bn.is_fused(layer)]  # fmt: skip
    if unfused:  # Keras' own BN would update its moving statistics again when recomputed
        raise ValueError(
            f"remat={mode!r} needs fused BN (use_fused_batchnorm first); {unfused[0]!r} is not."
        )
    parts = [(_recomputed(seg) if again else seg, again) for seg, again in segments(model, mode)]

    def call(self, inputs, training=None, mask=None, **kwargs):
        if not training or mask is not None or kwargs:
            return type(self).call(self, inputs, training=training, mask=mask, **kwargs)
        x = inputs
        for part, again in parts:
            x = part(x) if again else part(x, training=True)
        return x

    model.call = types.MethodType(call, model)
    return model
