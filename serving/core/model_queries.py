"""The model queries both protocols answer alike: GetModelMetadata and GetModelStatus.

REST (`rest.py`) and gRPC (`grpc_service.py`) build the same TF Serving response messages from
the manager's state; REST then prints them as JSON. Keeping them here, apart from either
protocol, means neither protocol module imports the other.
"""

from __future__ import annotations

from google.protobuf import any_pb2, wrappers_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from .status import invalid

_STATE = get_model_status_pb2.ModelVersionStatus.State


def spec_version(spec) -> tuple[int | None, str | None]:
    """(version, label) from a ModelSpec's version_choice oneof."""
    which = spec.WhichOneof("version_choice")
    if which == "version":
        return spec.version.value, None
    if which == "version_label":
        return None, spec.version_label
    return None, None


def model_metadata(manager, spec, fields: list[str]):
    """GetModelMetadataResponse with the `signature_def` field (the only one TF supports)."""
    if not fields:
        raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
    for field in fields:
        if field != "signature_def":
            raise invalid(f"Metadata field {field} is not supported")
    servable = manager.get(spec.name, *spec_version(spec))
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = spec.name
    response.model_spec.version.CopyFrom(wrappers_pb2.Int64Value(value=servable.version))
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in servable.signature_defs.items():
        signatures.signature_def[name].CopyFrom(signature)
    packed = any_pb2.Any()
    packed.Pack(signatures)
    response.metadata["signature_def"].CopyFrom(packed)
    return response


def model_status(manager, spec):
    """GetModelStatusResponse listing versions and their states, as TF Serving reports them."""
    version, label = spec_version(spec)
    response = get_model_status_pb2.GetModelStatusResponse()
    for number, state, error in manager.status(spec.name, version, label):
        entry = response.model_version_status.add()
        entry.version = number
        entry.state = _STATE.Value(state)
        entry.status.error_code = 2 if error else 0  # tensorflow.error.Code UNKNOWN / OK
        entry.status.error_message = error
    return response
