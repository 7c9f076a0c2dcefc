"""The embedded server's options: tensorflow_model_server's flag names, as one frozen dataclass.

`ModelServer(ServerOptions(...))` is how code and tests start a server; `keras-resnet-serve`
(keras_resnet.serving.tools.launch) defines one command-line flag per field, with the field's
name, default and help, so the command line and the library cannot drift apart. The fields
after `monitoring_config_file` are the embedded server's own (tensorflow_model_server has the
same names where it has the setting; `EMBEDDED_ONLY` lists those it lacks).
"""

from __future__ import annotations

import dataclasses

from .logs import LEVELS


def _option(default, help: str = "", choices: tuple = ()):
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    port: int = _option(8500, "gRPC port")
    rest_api_port: int = _option(8501, "REST port; 0 disables REST")
    host: str = _option("127.0.0.1", "address to bind (0.0.0.0 to expose)")
    model_name: str = _option("default", "the model's name, with --model_base_path")
    model_base_path: str = _option("", "directory of numbered versions of one model")
    model_config_file: str = _option("", "ModelServerConfig text proto, for several models")
    model_config_file_poll_wait_seconds: float = _option(0.0, "0 = read once")
    file_system_poll_wait_seconds: float = _option(1.0, "0 = load once")
    enable_batching: bool = _option(False, "batch concurrent requests of the same shape")
    batching_parameters_file: str = _option("", "BatchingParameters text proto")
    monitoring_config_file: str = _option("", "MonitoringConfig text proto")
    tensorflow_intra_op_parallelism: int = _option(
        0,
        "threads one TensorFlow op may use (oneDNN convolutions); 0 = TensorFlow's default, "
        "every core of the machine (keras-resnet-serve passes the CPUs it may use)",
    )
    tensorflow_inter_op_parallelism: int = _option(
        0, "TensorFlow ops run at once; 0 = TensorFlow's default (keras-resnet-serve passes 2)"
    )
    enable_model_warmup: bool = _option(True, "warm a version up before serving it")
    rest_api_num_threads: int = _option(16, "threads running REST and batched predicts")
    grpc_max_threads: int = _option(32, "gRPC worker threads")
    max_request_bytes: int = _option(
        64 << 20,
        "largest request body (REST: 413) or message (gRPC: RESOURCE_EXHAUSTED), and largest "
        "input tensor once decoded; default 64 MiB",
    )
    max_concurrent_requests: int = _option(
        64,
        "requests in flight over REST and gRPC together; more are refused at once (REST 429, "
        "gRPC RESOURCE_EXHAUSTED) rather than queued; 0 = no limit",
    )
    rest_api_timeout_in_ms: int = _option(
        30000,
        "REST request deadline, reading the body included (504 past it); 0 = none. gRPC uses "
        "the client's deadline instead (DEADLINE_EXCEEDED)",
    )
    max_num_load_retries: int = _option(5, "retries of a failed version load")
    load_retry_interval_micros: int = _option(
        60_000_000, "wait between load retries; a failed version is reported END with its error"
    )
    shutdown_grace_seconds: float = _option(
        30.0, "on SIGTERM, how long in-flight requests may take to finish"
    )
    verbosity: str = _option("info", "least severe level logged", LEVELS)


# Flags only the embedded server knows; tensorflow_model_server would refuse them.
EMBEDDED_ONLY = (
    "host",
    "max_request_bytes",
    "max_concurrent_requests",
    "shutdown_grace_seconds",
    "verbosity",
)
