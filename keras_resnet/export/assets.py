"""The files around an exported SavedModel that `tensorflow_model_server` reads.

- `models.config`: a ModelServerConfig text proto naming the export directory.
- `batching_parameters.txt`: BatchingParameters text proto for `--batching_parameters_file`.
- `monitoring.config`: MonitoringConfig text proto enabling the Prometheus endpoint.
- `<version>/assets.extra/tf_serving_warmup_requests`: a TFRecord of PredictionLog protos that
  TF Serving replays when it loads the version, so the first real request is not the slow one.
"""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.storage import atomic

PROMETHEUS_PATH = "/monitoring/prometheus/metrics"

# Defaults sized for a few CPU cores: batches big enough to amortise per-call overhead, a
# timeout short enough that a lone request waits at most 2 ms for company.
DEFAULT_BATCHING = {
    "max_batch_size": 32,
    "batch_timeout_micros": 2000,
    "num_batch_threads": 2,
    "max_enqueued_batches": 64,
}


def write_models_config(path: str, models: dict[str, str]) -> None:
    """`models` maps model name -> base path (absolute, as TF Serving resolves it)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in sorted(models.items()):
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = base_path
        entry.model_platform = "tensorflow"
        entry.model_version_policy.latest.num_versions = 1
    _write_text(path, text_format.MessageToString(config))


def write_batching_parameters(path: str, params: dict[str, int] | None = None) -> None:
    params = {**DEFAULT_BATCHING, **(params or {})}
    # BatchingParameters wraps every field in a google.protobuf wrapper, hence `{ value: N }`.
    lines = [f"{key} {{ value: {value} }}" for key, value in params.items()]
    lines.append("pad_variable_length_inputs: false")
    _write_text(path, "\n".join(lines) + "\n")


def write_monitoring_config(path: str) -> None:
    _write_text(path, f'prometheus_config {{\n  enable: true\n  path: "{PROMETHEUS_PATH}"\n}}\n')


def example_png(height: int, width: int, seed: int = 0) -> bytes:
    """A deterministic RGB PNG of the given size (warm-up and smoke-test payload)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return tf.io.encode_png(pixels).numpy()


def write_warmup_requests(
    saved_model_dir: str, model_name: str, height: int, width: int, batch_sizes=(1, 8)
) -> str:
    """Writes one PredictionLog per batch size for `serving_default`; returns the file path."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    directory = os.path.join(saved_model_dir, "assets.extra")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "tf_serving_warmup_requests")
    image = example_png(height, width)
    with tf.io.TFRecordWriter(path) as writer:
        for batch in batch_sizes:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default")
            )
            request.inputs["image_bytes"].CopyFrom(
                tf.make_tensor_proto([image] * batch, dtype=tf.string)
            )
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def _write_text(path: str, text: str) -> None:
    # Atomic (keras_resnet.storage.atomic), so a server polling the config never reads half a
    # file, on a disk or in a bucket.
    atomic.atomic_write_text(path, text)
