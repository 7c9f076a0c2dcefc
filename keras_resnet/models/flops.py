"""Multiply-add counting, in the convention of the paper's Table 1 ("FLOPs" there are
multiply-adds of the convolutions and the fully connected layer; BN, ReLU, additions and
pooling are not counted)."""

from __future__ import annotations

import keras


def _fixed_input(model: keras.Model, input_shape) -> keras.Model:
    """Returns `model` itself, or a weight-free clone whose input has a static spatial size."""
    current = tuple(model.input_shape[1:])
    if input_shape is None and None not in current:
        return model
    if input_shape is None:
        raise ValueError(
            f"Model input shape {current!r} has unknown dimensions; pass "
            "count_flops(model, input_shape=(224, 224, 3))."
        )
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    return keras.models.clone_model(model, input_tensors=inputs)


def count_flops(model: keras.Model, input_shape=None) -> int:
    """Multiply-adds for one image through `model`'s Conv2D and Dense layers.

    Args:
      model: a functional Keras model.
      input_shape: (H, W, C) to count at; needed only if the model's input has unknown sizes.

    Returns:
      The number of multiply-adds per image (an int). Table 1 reports these x10^9.
    """
    model = _fixed_input(model, input_shape)
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            total += oh * ow * kh * kw * cin * cout // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += cin * cout
    return int(total)
