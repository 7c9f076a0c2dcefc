"""Server configuration in tensorflow_model_server's own formats, parsed as strictly as it does.

- `--model_config_file`: a ModelServerConfig text proto (the official generated class).
- `--model_name` / `--model_base_path`: one model, latest version policy.
- `--batching_parameters_file`: a BatchingParameters text proto (`max_batch_size { value: 32 }`).
- `--monitoring_config_file`: a MonitoringConfig text proto (`prometheus_config { enable: true }`).

Every file is parsed as protobuf text format against its message definition (protos.py builds
those the pip package lacks): a misspelt field, a value of the wrong type or out of range, or a
field given twice stops start-up with one line naming the file, the line and the field, as
tensorflow_model_server refuses them. Comments (`# ...`) are comments, never settings.
"""

from __future__ import annotations

import dataclasses
import os
import re

from . import protos
from .options import ServerOptions

DEFAULT_METRICS_PATH = "/monitoring/prometheus/metrics"
# Each batch thread is a Python thread here; a typo of a few extra digits must not start a
# million of them.
MAX_BATCH_THREADS = 1024


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str
    policy: str = "latest"  # "latest", "all" or "specific"
    num_versions: int = 1  # for "latest"
    versions: tuple[int, ...] = ()  # for "specific"
    labels: tuple[tuple[str, int], ...] = ()  # version label -> version

    def wanted(self, available: list[int]) -> set[int]:
        """Which of the versions on disk this policy serves."""
        if self.policy == "all":
            return set(available)
        if self.policy == "specific":
            return set(available) & set(self.versions)
        return set(sorted(available)[-self.num_versions :]) if available else set()


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    max_batch_size: int = 32
    batch_timeout_micros: int = 0
    num_batch_threads: int = 1
    max_enqueued_batches: int = 100
    thread_pool_name: str = "batch"


def read_model_config_file(path: str) -> list[ModelConfig]:
    """Parses a ModelServerConfig text proto; raises ValueError with a one-line reason."""
    from tensorflow_serving.config import model_server_config_pb2

    config, _ = parse_text_proto(
        path, model_server_config_pb2.ModelServerConfig(), "--model_config_file"
    )
    if config.WhichOneof("config") != "model_config_list":
        raise ValueError(f"{path}: only model_config_list configs are supported.")
    models = []
    for entry in config.model_config_list.config:
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(f"{path}: model {entry.name!r} platform {entry.model_platform!r}.")
        which = entry.model_version_policy.WhichOneof("policy_choice") or "latest"
        policy = entry.model_version_policy
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=entry.base_path,
                policy=which,
                num_versions=max(1, policy.latest.num_versions) if which == "latest" else 1,
                versions=tuple(policy.specific.versions) if which == "specific" else (),
                labels=tuple(sorted(entry.version_labels.items())),
            )
        )
    names = [m.name for m in models]
    if len(set(names)) != len(names) or not all(names):
        raise ValueError(f"{path}: model names must be present and unique, got {names}.")
    return models


def parse_text_proto(path: str, message, flag: str):
    """(message, text) parsed from a text-proto file; ValueError with one line otherwise."""
    from google.protobuf import text_format

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or "not UTF-8 text"
        raise ValueError(f"Cannot read {flag} {path}: {reason}") from None
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as e:
        line = e.GetLine() or 1
        reason = " ".join(_parse_reason(e, text, line).split())  # always one line
        raise ValueError(f"{path}:{line}: {reason}") from None
    return message, text


def _parse_reason(error, text: str, line: int) -> str:
    """The parser's reason, naming the field: "unknown field" reasons already do; value errors
    only echo the line, so the field whose value failed is found left of the error column."""
    reason = str(error)
    reason = re.sub(r"^\d+:\d+ : (?:'.*': )?", "", reason, flags=re.S)
    if '"' in reason and "field" in reason:
        return reason
    lines = text.splitlines()
    before = lines[line - 1][: max(error.GetColumn() or 0, 0)] if line <= len(lines) else ""
    found = re.findall(r"(\w+)\s*(?:\{\s*value\s*)?:", before)
    return f'field "{found[-1]}": {reason}' if found else reason


def _line_of(text: str, field: str) -> int:
    """The line that sets `field` last (1-based), comments skipped; for value checks made
    after parsing, which the parser cannot place."""
    where = 1
    for number, line in enumerate(text.splitlines(), 1):
        comment = line.find("#")
        if comment >= 0 and line.count('"', 0, comment) % 2 == 0:  # not a "#" inside a string
            line = line[:comment]
        if re.search(rf"\b{field}\b\s*[:{{]", line):
            where = number
    return where


def read_batching_parameters(path: str | None) -> BatchingParameters:
    """Reads a BatchingParameters text proto. TF Serving's padding and splitting options
    (allowed_batch_sizes, pad_variable_length_inputs, enable_large_batch_splitting,
    max_execution_batch_size) are accepted and checked but change nothing here: this server
    batches only requests of the same shape and never pads."""
    if not path:
        return BatchingParameters()
    proto, text = parse_text_proto(
        path, protos.batching_parameters_class()(), "--batching_parameters_file"
    )

    def bad(field: str, why: str) -> ValueError:
        return ValueError(f'{path}:{_line_of(text, field)}: field "{field}": {why}')

    values = {}
    for field, lowest in (
        ("max_batch_size", 1),
        ("batch_timeout_micros", 0),
        ("num_batch_threads", 1),
        ("max_enqueued_batches", 1),
        ("max_execution_batch_size", 1),
    ):
        if proto.HasField(field):
            value = getattr(proto, field).value
            if value < lowest:
                raise bad(field, f"must be >= {lowest}, got {value}")
            values[field] = value
    if values.get("num_batch_threads", 1) > MAX_BATCH_THREADS:
        raise bad("num_batch_threads", f"must be <= {MAX_BATCH_THREADS}")
    values.pop("max_execution_batch_size", None)
    if proto.HasField("thread_pool_name") and proto.thread_pool_name.value:
        values["thread_pool_name"] = proto.thread_pool_name.value
    params = BatchingParameters(**values)
    sizes = list(proto.allowed_batch_sizes)
    if sizes and (sizes != sorted(set(sizes)) or sizes[0] < 1):
        raise bad("allowed_batch_sizes", f"must be positive and increasing, got {sizes}")
    if sizes and sizes[-1] != params.max_batch_size:
        # TF Serving's own check (bundle_factory_util.cc), in its words.
        raise bad(
            "allowed_batch_sizes",
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
            f"{sizes[-1]}; expected {params.max_batch_size}",
        )
    return params


def read_monitoring_config(path: str | None) -> str | None:
    """The Prometheus path a MonitoringConfig text proto asks for, or None when it leaves
    metrics off. Without a file metrics are on at the default path (unlike TF Serving)."""
    if not path:
        return DEFAULT_METRICS_PATH
    proto, text = parse_text_proto(
        path, protos.monitoring_config_class()(), "--monitoring_config_file"
    )
    prometheus = proto.prometheus_config
    if not prometheus.enable:
        return None
    metrics_path = prometheus.path or DEFAULT_METRICS_PATH
    if not metrics_path.startswith("/") or any(c in metrics_path for c in "{}?# "):
        raise ValueError(
            f'{path}:{_line_of(text, "path")}: field "path": must be a URL path starting '
            f"with /, got {metrics_path!r}"
        )
    return metrics_path


def requested_models(options: ServerOptions) -> list[ModelConfig]:
    """The models the options ask for, as tensorflow_model_server reads the same flags."""
    if options.model_config_file:
        if options.model_base_path:
            raise ValueError("Use either --model_config_file or --model_base_path, not both.")
        models = read_model_config_file(options.model_config_file)
    elif options.model_base_path:
        models = [ModelConfig(name=options.model_name, base_path=options.model_base_path)]
    else:
        raise ValueError("Give --model_base_path (with --model_name) or --model_config_file.")
    for m in models:
        if not os.path.isdir(m.base_path):
            raise ValueError(f"Model {m.name!r}: base path {m.base_path} is not a directory.")
    return models
