"""Measurement primitives for `make bench` that need TensorFlow: the machine's matmul peak and
Keras inference/training throughput. Each returns plain numbers; `run.py` decides what to run and
`report.py` reports ratios measured in the same run. Peak memory: `memory.py`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

# The timer needs no TensorFlow: it lives in `measure`, with the PyTorch peer, which the
# accelerator benchmark also runs on machines without TensorFlow.
from keras_resnet.bench.measure import time_fn


def _sync(result) -> None:
    """Forces TF's async execution to finish, so timings cover the work itself."""
    flat = tf.nest.flatten(result)
    if flat:
        _ = flat[0].numpy() if hasattr(flat[0], "numpy") else flat[0]


def matmul_peak_gflops(dtype: str, *, n: int = 4096, min_time: float = 2.0) -> float:
    """Achieved GFLOP/s (2·n³ per matmul) of a large square matmul: the machine's practical
    ceiling for dense layers and convolutions (which oneDNN lowers to similar GEMM kernels)."""
    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    f = tf.function(lambda: tf.matmul(a, b))
    timing = time_fn(lambda: _sync(f()), warmup=2, min_time=min_time, max_iters=50)
    return 2 * n**3 / timing.per_iter_s / 1e9


@dataclasses.dataclass(frozen=True)
class Mode:
    """A numeric mode: a Keras dtype policy and whether XLA compiles the step."""

    name: str
    policy: str = "float32"
    jit: bool = False


MODES = {
    "float32": Mode("float32"),
    "bf16": Mode("bf16", policy="mixed_bfloat16"),
    "xla": Mode("xla", jit=True),
    "xla_bf16": Mode("xla_bf16", policy="mixed_bfloat16", jit=True),
}


def keras_throughput(
    build: Callable[[], keras.Model],
    mode: Mode,
    *,
    batch: int,
    image_size: int,
    num_classes: int,
    train: bool,
    min_time: float,
    warmup: int = 2,
    max_iters: int = 30,
) -> float:
    """Images/s of a Keras model's forward pass (train=False) or full SGD step (train=True)."""
    # clear_session() resets the global dtype policy, so it must come first.
    keras.utils.clear_session()
    keras.mixed_precision.set_global_policy(mode.policy)
    try:
        model = build()
        if model.dtype_policy.name != mode.policy:  # never report float32 as bf16 again
            raise RuntimeError(f"{mode.name}: model built as {model.dtype_policy.name}")
        x = tf.random.uniform((batch, image_size, image_size, 3), dtype=tf.float32)
        y = tf.random.uniform((batch,), maxval=num_classes, dtype=tf.int32)
        if train:
            model.compile(
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=mode.jit,
            )
            model.make_train_function()
            step = model.train_function
            data = iter(lambda: (x, y), None)  # an endless iterator of the same batch
            fn = lambda: _sync(step(data))  # noqa: E731
        else:
            forward = tf.function(lambda t: model(t, training=False), jit_compile=mode.jit)
            fn = lambda: _sync(forward(x))  # noqa: E731
        timing = time_fn(fn, warmup=warmup, min_time=min_time, max_iters=max_iters)
        return timing.rate(batch)
    finally:
        keras.mixed_precision.set_global_policy("float32")
