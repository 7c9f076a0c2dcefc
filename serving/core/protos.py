"""TF Serving's config messages that the tensorflow-serving-api wheel does not ship.

The wheel holds the API protos and ModelServerConfig, but not BatchingParameters
(tensorflow_serving/servables/tensorflow/session_bundle_config.proto) nor MonitoringConfig
(tensorflow_serving/config/monitoring_config.proto). Both are rebuilt here as descriptors with
TF Serving's package, message names, field names, numbers and types, so that a config file is
parsed by the same rules tensorflow_model_server applies: an unknown field, a value of the wrong
type, or a field given twice is an error, and `#` starts a comment.

Field numbers 8 and 9 of BatchingParameters (the large-batch-splitting pair) come from later
TF Serving releases than the proto files we could read; their names and wrapper types match
how TF Serving's bundle_factory_util.h reads them.
"""

from __future__ import annotations

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_PACKAGE = "tensorflow.serving"
_F = descriptor_pb2.FieldDescriptorProto
# (name, number, type, wrapper message or None, repeated)
_BATCHING_FIELDS = (
    ("max_batch_size", 1, _F.TYPE_MESSAGE, "Int64Value", False),
    ("batch_timeout_micros", 2, _F.TYPE_MESSAGE, "Int64Value", False),
    ("max_enqueued_batches", 3, _F.TYPE_MESSAGE, "Int64Value", False),
    ("num_batch_threads", 4, _F.TYPE_MESSAGE, "Int64Value", False),
    ("thread_pool_name", 5, _F.TYPE_MESSAGE, "StringValue", False),
    ("allowed_batch_sizes", 6, _F.TYPE_INT64, None, True),
    ("pad_variable_length_inputs", 7, _F.TYPE_BOOL, None, False),
    ("enable_large_batch_splitting", 8, _F.TYPE_MESSAGE, "BoolValue", False),
    ("max_execution_batch_size", 9, _F.TYPE_MESSAGE, "Int64Value", False),
)
_PROMETHEUS_FIELDS = (
    ("enable", 1, _F.TYPE_BOOL, None, False),
    ("path", 2, _F.TYPE_STRING, None, False),
)


def _message(name: str, fields) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    for field_name, number, field_type, wrapper, repeated in fields:
        field = message.field.add(name=field_name, number=number, type=field_type)
        field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        if wrapper:
            field.type_name = f".google.protobuf.{wrapper}"
    return message


def _file(name: str, *messages, dependencies=()) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name=name, package=_PACKAGE, syntax="proto3")
    proto.dependency.extend(dependencies)
    proto.message_type.extend(messages)
    return proto


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    # A pool of our own: should a later wheel register the real files in the default pool,
    # the two definitions never clash.
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    pool.Add(
        _file(
            "tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
            _message("BatchingParameters", _BATCHING_FIELDS),
            dependencies=["google/protobuf/wrappers.proto"],
        )
    )
    monitoring = _message("MonitoringConfig", ())
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_OPTIONAL,
        type_name=f".{_PACKAGE}.PrometheusConfig",
    )
    pool.Add(
        _file(
            "tensorflow_serving/config/monitoring_config.proto",
            _message("PrometheusConfig", _PROMETHEUS_FIELDS),
            monitoring,
        )
    )
    return pool


def _class(name: str):
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{_PACKAGE}.{name}"))


def batching_parameters_class():
    """tensorflow.serving.BatchingParameters: the real generated class if installed, else ours."""
    try:
        from tensorflow_serving.servables.tensorflow import session_bundle_config_pb2
    except ImportError:
        return _class("BatchingParameters")
    return session_bundle_config_pb2.BatchingParameters


def monitoring_config_class():
    """tensorflow.serving.MonitoringConfig: the real generated class if installed, else ours."""
    try:
        from tensorflow_serving.config import monitoring_config_pb2
    except ImportError:
        return _class("MonitoringConfig")
    return monitoring_config_pb2.MonitoringConfig
