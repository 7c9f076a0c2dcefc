"""gRPC front end: the official tensorflow-serving-api servicers, answered from our manager.

PredictionService.Predict and GetModelMetadata, and ModelService.GetModelStatus, behave like
TF Serving's; Classify, Regress, MultiInference and HandleReloadConfigRequest answer
UNIMPLEMENTED (this server serves image classifiers through Predict only).
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, wrappers_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.servable import DEFAULT_SIGNATURE
from serving.status import ServingError, invalid

_STATE = get_model_status_pb2.ModelVersionStatus.State


def spec_version(spec) -> tuple[int | None, str | None]:
    """(version, label) from a ModelSpec's version_choice oneof."""
    which = spec.WhichOneof("version_choice")
    if which == "version":
        return spec.version.value, None
    if which == "version_label":
        return None, spec.version_label
    return None, None


def _abort(context, error: ServingError):
    context.abort(error.code, error.message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, predictor, metrics):
        self.predictor = predictor
        self.manager = predictor.manager
        self.metrics = metrics

    def Predict(self, request, context):  # noqa: N802 - gRPC method names
        import tensorflow as tf

        spec = request.model_spec
        try:
            with self.metrics.track(spec.name, "predict", "GRPC"):
                servable = self.manager.get(spec.name, *spec_version(spec))
                signature = servable.signature(spec.signature_name)
                try:
                    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                except (TypeError, ValueError) as e:
                    raise invalid(f"Cannot parse input tensor: {e}") from None
                wanted = list(request.output_filter) or list(signature.outputs)
                for alias in wanted:
                    if alias not in signature.outputs:
                        raise invalid(
                            f"output tensor alias not found in signature: {alias} Outputs "
                            f"expected to be in the set {{{','.join(sorted(signature.outputs))}}}."
                        )
                outputs = self.predictor.submit(servable, spec.signature_name, inputs).result()
        except ServingError as e:
            return _abort(context, e)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = spec.signature_name or DEFAULT_SIGNATURE
        for alias in wanted:
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(outputs[alias]))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        spec = request.model_spec
        try:
            with self.metrics.track(spec.name, "metadata", "GRPC"):
                return model_metadata(self.manager, spec, list(request.metadata_field))
        except ServingError as e:
            return _abort(context, e)

    def Classify(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Classify is not served; use Predict.")

    def Regress(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not served; use Predict.")

    def MultiInference(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not served; use Predict.")


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


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager, metrics):
        self.manager = manager
        self.metrics = metrics

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            with self.metrics.track(request.model_spec.name, "status", "GRPC"):
                return model_status(self.manager, request.model_spec)
        except ServingError as e:
            return _abort(context, e)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Config reload over gRPC is not supported.")


def add_services(server, predictor, metrics) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(predictor, metrics), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelService(predictor.manager, metrics), server
    )
