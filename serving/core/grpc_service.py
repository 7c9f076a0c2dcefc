"""gRPC front end: the official tensorflow-serving-api servicers, answered from our manager.

PredictionService.Predict and GetModelMetadata, and ModelService.GetModelStatus, behave like
TF Serving's, check for check and code for code (predict_util.cc, get_model_metadata_impl.cc,
get_model_status_impl.cc; the table is tests/test_serving_error_codes.py); Classify, Regress,
MultiInference and HandleReloadConfigRequest answer UNIMPLEMENTED (this server serves image
classifiers through Predict only).

Every RPC takes a --max_concurrent_requests slot (RESOURCE_EXHAUSTED when none is free).
Predict honours the client's deadline (DEADLINE_EXCEEDED), and refuses input tensors that would
decode to more than --max_request_bytes: a TensorProto may repeat one value to any shape.
"""

from __future__ import annotations

import math

import grpc
from google.protobuf import message_factory
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)

from . import limits
from .json_tensor import MAX_RANK
from .model_queries import model_metadata, model_status, spec_version
from .servable import DEFAULT_SIGNATURE
from .status import ServingError, invalid


def require_spec(request) -> None:
    """TF Serving's first check of every model RPC: an absent ModelSpec is INVALID_ARGUMENT,
    not a lookup of the model named ""."""
    if not request.HasField("model_spec"):
        raise invalid("Missing ModelSpec")


def decode_inputs(request, max_bytes: int) -> dict:
    """The request's input tensors as numpy arrays; INVALID_ARGUMENT for any that do not decode
    ("tensor parsing error: ALIAS", as TF Serving words it, with the reason).

    make_ndarray pads a short value list to the full shape, so a few bytes on the wire can ask
    for terabytes: the decoded size is checked against `max_bytes` first.
    """
    import tensorflow as tf

    inputs = {}
    for alias, proto in request.inputs.items():
        dims = [d.size for d in proto.tensor_shape.dim]
        try:
            dtype = tf.dtypes.as_dtype(proto.dtype)
            item = 8 if dtype == tf.string else max(dtype.size, 1)
        except TypeError:
            raise invalid(f"tensor parsing error: {alias} (unknown dtype {proto.dtype})") from None
        if any(d < 0 for d in dims) or len(dims) > MAX_RANK:
            raise invalid(
                f"tensor parsing error: {alias} (invalid shape {dims[: MAX_RANK + 1]})"
            ) from None
        size = math.prod(dims) * item
        if max_bytes and size > max_bytes:
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Input tensor {alias} of shape {dims} would take {size} bytes, more than the "
                f"{max_bytes}-byte limit (--max_request_bytes)",
            )
        try:
            inputs[alias] = tf.make_ndarray(proto)
        except Exception as e:  # noqa: BLE001 - whatever fails here, the client sent it
            raise invalid(f"tensor parsing error: {alias} ({type(e).__name__}: {e})") from None
    return inputs


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, predictor, metrics, max_request_bytes: int = 0):
        self.predictor = predictor
        self.manager = predictor.manager
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes

    def Predict(self, request, context):  # noqa: N802 - gRPC method names
        import tensorflow as tf

        spec = request.model_spec
        with self.metrics.track(spec.name, "predict", "GRPC"):
            require_spec(request)
            servable = self.manager.get(spec.name, *spec_version(spec))
            signature = servable.signature(spec.signature_name, grpc_predict=True)
            servable.check_inputs(spec.signature_name, request.inputs)  # names before values
            inputs = decode_inputs(request, self.max_request_bytes)
            wanted = output_aliases(signature, list(request.output_filter))
            future = self.predictor.submit(servable, spec.signature_name, inputs)
            # time_remaining() is None without a client deadline: then wait as long as it takes.
            outputs = limits.wait(future, context.time_remaining())
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = spec.signature_name or DEFAULT_SIGNATURE
        for alias in wanted:
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(outputs[alias]))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        spec = request.model_spec
        with self.metrics.track(spec.name, "metadata", "GRPC"):
            require_spec(request)
            return model_metadata(self.manager, spec, list(request.metadata_field))

    def Classify(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Classify is not served; use Predict.")

    def Regress(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not served; use Predict.")

    def MultiInference(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not served; use Predict.")


def output_aliases(signature, output_filter: list[str]) -> list[str]:
    """The outputs a Predict returns: the filter's (each known, none twice) or all of them."""
    seen = set()  # a set: a request may repeat one alias a million times
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid(
                f"output tensor alias not found in signature: {alias} Outputs "
                f"expected to be in the set {{{','.join(sorted(signature.outputs))}}}."
            )
        if alias in seen:
            raise invalid(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return output_filter or list(signature.outputs)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager, metrics):
        self.manager = manager
        self.metrics = metrics

    def GetModelStatus(self, request, context):  # noqa: N802
        with self.metrics.track(request.model_spec.name, "status", "GRPC"):
            require_spec(request)
            return model_status(self.manager, request.model_spec)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Config reload over gRPC is not supported.")


class _Unparsable:
    """Stands in for a request whose bytes are not the method's message."""

    def __init__(self, error: Exception):
        self.error = error


def _parser(message_class):
    # grpcio answers INTERNAL (and logs a traceback) when a deserializer raises; garbage from a
    # client is INVALID_ARGUMENT, so parsing never raises and the handler decides.
    def parse(data: bytes):
        try:
            return message_class.FromString(data)
        except Exception as e:  # noqa: BLE001 - DecodeError, bad UTF-8, recursion limit ...
            return _Unparsable(e)

    return parse


def _guarded(behaviour, admission: limits.Admission):
    def handle(request, context):
        if isinstance(request, _Unparsable):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Could not parse the request message: {type(request.error).__name__}",
            )
        try:
            with admission.slot():
                return behaviour(request, context)
        except ServingError as e:
            context.abort(e.code, e.message)

    return handle


def _generic_handler(service, servicer, admission):
    """Registers every method of a service descriptor with lenient parsing and admission."""
    handlers = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _guarded(getattr(servicer, method.name), admission),
            request_deserializer=_parser(request_class),
            response_serializer=lambda message: message.SerializeToString(),
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def add_services(server, predictor, metrics, admission=None, max_request_bytes: int = 0) -> None:
    admission = admission or limits.Admission(0)
    prediction = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    models = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"]
    server.add_generic_rpc_handlers(
        (
            _generic_handler(
                prediction, PredictionService(predictor, metrics, max_request_bytes), admission
            ),
            _generic_handler(models, ModelService(predictor.manager, metrics), admission),
        )
    )
