"""The served model in `make bench`, against the runtimes people serve ResNets with instead.

ResNet-50 in torchvision's v1.5 layout (the network the peers run) is exported by
`keras_resnet.export.export_model`, exactly as `keras-resnet-export` writes it for TF Serving
(BN folded into the convolutions, float32 or bfloat16 compute), loaded back with
`tf.saved_model.load`, and timed through its `predict_images` signature: raw pixels in,
in-graph normalisation, probabilities and classes out. Beside it: the same network in-process
in Keras as it trains (fused BN, not folded), and ONNX Runtime and OpenVINO (bench/peers.py).
Batch 32 measures throughput, batch 1 latency.
"""

from __future__ import annotations

import logging
import os
import tempfile

import tensorflow as tf

logger = logging.getLogger(__name__)

MODEL = "resnet50_v1.5"  # the `model` column of these rows
EXPORT_PRECISION = {"float32": "float32", "bf16": "bfloat16"}  # bench mode -> export precision
# The exports timed: each precision with its weights as variables, then as graph constants
# (`--weights_as_constants=true`), as the bench mode "<mode>_constants". Both are forced here:
# the exporter's default (auto) is variables in float32 and constants in bfloat16.
EXPORTS = ("float32", "bf16", "float32_constants", "bf16_constants")


def build():
    import keras_resnet

    return keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet50", variant="v1.5"))


def export(root: str, mode: str) -> str:
    """Exports a fresh ResNet-50 v1.5 as EXPORTS' `mode`; returns the version directory."""
    from keras_resnet.export import export_model
    from keras_resnet.export.served_inputs import Preprocessing

    pre = Preprocessing(height=224, width=224, crop_fraction=0.875)
    export_dir = os.path.join(root, mode)
    precision = EXPORT_PRECISION[mode.removesuffix("_constants")]
    return export_model(
        build(), export_dir, pre, model_name="resnet50", precision=precision,
        weights_as_constants=mode.endswith("_constants"),
    )  # fmt: skip


def savedmodel_throughput(path: str, *, batch: int, **timing) -> float:
    """Images/s of the SavedModel's `predict_images` signature, as TF Serving calls it."""
    from keras_resnet.bench.measure import time_fn
    from keras_resnet.bench.timing import _sync

    loaded = tf.saved_model.load(path)
    predict = loaded.signatures["predict_images"]
    x = tf.random.uniform((batch, 224, 224, 3), 0, 255)
    return time_fn(lambda: _sync(predict(images=x)), **timing).rate(batch)


def _timing(s: dict, batch: int) -> dict:
    # Batch 1 takes ~1/20 of a batch-32 call: more iterations for the same measuring time.
    iters = s["max_iters"] if batch > 1 else 4 * s["max_iters"]
    return {"min_time": s["min_time"], "warmup": s["warmup"], "max_iters": iters}


def measure(record, s: dict) -> None:
    """Runs the cells, calling `record(impl, model, task, mode, images_per_s, macs, batch)`."""
    import keras_resnet
    from keras_resnet.bench import peers
    from keras_resnet.bench import timing as bl

    macs = keras_resnet.count_flops(keras_resnet.create_model("resnet50", variant="v1.5"))
    batches, threads = s["served_batches"], peers.default_threads()
    if s["served_in_process"]:
        for mode in ("float32", "bf16"):
            for batch in batches:
                rate = bl.keras_throughput(
                    build, bl.MODES[mode], batch=batch, image_size=224, num_classes=1000,
                    train=False, **_timing(s, batch),
                )  # fmt: skip
                record("keras_resnet", MODEL, "infer", mode, rate, macs, batch)
    with tempfile.TemporaryDirectory() as root:
        for mode in EXPORTS:
            path = export(root, mode)
            for batch in batches:
                rate = savedmodel_throughput(path, batch=batch, **_timing(s, batch))
                record("keras_resnet_savedmodel", MODEL, "infer", mode, rate, macs, batch)
        onnx = peers.export_onnx(os.path.join(root, "resnet50_v1.5.onnx"))
        if onnx is None:
            logger.info("torch or onnx not installed: ONNX Runtime and OpenVINO skipped")
            return
        for batch in batches:
            rate = peers.onnxruntime_throughput(
                onnx, batch=batch, threads=threads, **_timing(s, batch)
            )
            if rate is None:
                logger.info("onnxruntime not installed: skipped")
                break
            record("onnxruntime", MODEL, "infer", "float32", rate, macs, batch)
        for mode in ("float32", "bf16"):
            for batch in batches:
                rate = peers.openvino_throughput(
                    onnx, batch=batch, mode=mode, threads=threads, **_timing(s, batch)
                )
                if rate is None:
                    logger.info("openvino not installed: skipped")
                    return
                record("openvino", MODEL, "infer", mode, rate, macs, batch)
