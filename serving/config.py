"""Server configuration in tensorflow_model_server's own formats.

- `--model_config_file`: a ModelServerConfig text proto (parsed with the official proto).
- `--model_name` / `--model_base_path`: one model, latest version policy.
- `--batching_parameters_file`: a BatchingParameters text proto (`max_batch_size { value: 32 }`).
"""

from __future__ import annotations

import dataclasses
import os
import re


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


def read_model_config_file(path: str) -> list[ModelConfig]:
    """Parses a ModelServerConfig text proto; raises ValueError with a one-line reason."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ValueError(f"Cannot read --model_config_file {path}: {e.strerror}") from None
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        raise ValueError(f"{path} is not a ModelServerConfig text proto: {e}") from None
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


_FIELD = re.compile(r"(\w+)\s*(?::\s*(\w+)|\{\s*value\s*:\s*(\w+)\s*\})")


def read_batching_parameters(path: str | None) -> BatchingParameters:
    """Reads the scalar fields of a BatchingParameters text proto; unknown fields are ignored
    (TF Serving's padding and allowed_batch_sizes options have no effect here)."""
    if not path:
        return BatchingParameters()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ValueError(f"Cannot read --batching_parameters_file {path}: {e.strerror}") from None
    known = {f.name for f in dataclasses.fields(BatchingParameters)}
    values = {}
    for key, plain, wrapped in _FIELD.findall(text):
        if key in known:
            try:
                values[key] = int(wrapped or plain)
            except ValueError:
                raise ValueError(f"{path}: {key} must be an integer.") from None
    params = BatchingParameters(**values)
    if min(params.max_batch_size, params.num_batch_threads, params.max_enqueued_batches) < 1:
        raise ValueError(f"{path}: batch sizes, threads and queue length must be >= 1.")
    return params


def models_from_flags(args) -> list[ModelConfig]:
    """The models a command line asks for, as tensorflow_model_server reads its flags."""
    if args.model_config_file:
        if args.model_base_path:
            raise ValueError("Use either --model_config_file or --model_base_path, not both.")
        models = read_model_config_file(args.model_config_file)
    elif args.model_base_path:
        models = [ModelConfig(name=args.model_name, base_path=args.model_base_path)]
    else:
        raise ValueError("Give --model_base_path (with --model_name) or --model_config_file.")
    for m in models:
        if not os.path.isdir(m.base_path):
            raise ValueError(f"Model {m.name!r}: base path {m.base_path} is not a directory.")
    return models
