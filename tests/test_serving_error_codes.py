"""The error table: every request error the embedded server answers, with TF Serving's status
code and message, checked over gRPC and REST against a running server.

Each row was audited against TF Serving's source: predict_impl.cc / predict_util.cc (Predict),
tensorflow/cc/saved_model/util.cc (input names), get_model_metadata_impl.cc,
get_model_status_impl.cc, server_core.cc (version labels), basic_manager.cc (unknown servables),
http_rest_api_handler.cc and json_tensor.cc (REST), http_server.cc (gRPC code -> HTTP status).
A row has a gRPC form, a REST form, or both; codes and messages can differ between the two
where TF Serving's differ (an unknown signature). Rows marked OURS are this server's documented
differences, not TF Serving behaviour.
"""

import base64
import dataclasses

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_resnet.serving.tools import client
from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    running_server,
    server_options,
)

C = grpc.StatusCode
# TF Serving's ToHTTPStatusCode (model_servers/http_server.cc), as plain numbers.
HTTP = {C.INVALID_ARGUMENT: 400, C.FAILED_PRECONDITION: 400, C.NOT_FOUND: 404}
HTTP |= {C.UNIMPLEMENTED: 501, C.RESOURCE_EXHAUSTED: 429, C.UNAVAILABLE: 503}
IMAGE = png(random_pixels(1, seed=11)[0])
B64 = {"b64": base64.b64encode(IMAGE).decode()}
CONFIG = """model_config_list { config {
  name: "tiny" base_path: "%s" version_labels { key: "stable" value: 1 }
} }"""


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    protocol: str  # "grpc" or "rest"
    request: tuple  # gRPC: (method, request proto); REST: (HTTP method, path, JSON body)
    code: grpc.StatusCode
    message: str  # TF Serving's words: the answer contains them


def predict(name="tiny", signature="", version=None, label=None, outputs=(), spec=True, **inputs):
    request = predict_pb2.PredictRequest()
    if spec:
        request.model_spec.name = name
        request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    request.output_filter.extend(outputs)
    return ("Predict", request)


def metadata(name="tiny", fields=("signature_def",), spec=True):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=list(fields))
    if spec:
        request.model_spec.name = name
    return ("GetModelMetadata", request)


def status(name="tiny", version=None, label=None, spec=True):
    request = get_model_status_pb2.GetModelStatusRequest()
    if spec:
        request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    return ("GetModelStatus", request)


def bad_tensor():
    method, request = predict(image_bytes=np.array([IMAGE], dtype=object))
    proto = request.inputs["image_bytes"]
    proto.Clear()
    proto.dtype, proto.tensor_content = 1, b"\x01\x02\x03"  # not a whole float
    proto.tensor_shape.dim.add(size=1)
    return method, request


IMAGES = np.array([IMAGE], dtype=object)
ROWS = [
    # -- which model: basic_manager.cc, server_core.cc, get_model_status_impl.cc --------------
    Row("unknown model", "grpc", predict("nope", image_bytes=IMAGES), C.NOT_FOUND,
        "Servable not found for request: Latest(nope)"),
    Row("unknown model", "rest", ("POST", "models/nope:predict", {"instances": [B64]}),
        C.NOT_FOUND, "Servable not found for request: Latest(nope)"),
    Row("unknown version", "grpc", predict(version=9, image_bytes=IMAGES), C.NOT_FOUND,
        "Servable not found for request: Specific(tiny, 9)"),
    Row("unknown version", "rest", ("POST", "models/tiny/versions/9:predict",
        {"instances": [B64]}), C.NOT_FOUND, "Servable not found for request: Specific(tiny, 9)"),
    Row("unknown label", "grpc", predict(label="canary", image_bytes=IMAGES),
        C.INVALID_ARGUMENT, "Unrecognized servable version label: canary"),
    Row("unknown label", "rest", ("POST", "models/tiny/labels/canary:predict",
        {"instances": [B64]}), C.INVALID_ARGUMENT, "Unrecognized servable version label: canary"),
    Row("no model spec", "grpc", predict(spec=False, image_bytes=IMAGES), C.INVALID_ARGUMENT,
        "Missing ModelSpec"),
    # -- which signature: predict_util.cc (gRPC) vs http_rest_api_handler.cc (REST) -------------
    Row("unknown signature", "grpc", predict(signature="nope", image_bytes=IMAGES),
        C.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
    Row("unknown signature", "rest", ("POST", "models/tiny:predict",
        {"signature_name": "nope", "instances": [B64]}), C.INVALID_ARGUMENT,
        'Serving signature name: "nope" not found in signature def'),
    # -- inputs: predict_util.cc, saved_model/util.cc, json_tensor.cc -------------------------
    Row("extra input", "grpc", predict(image_bytes=IMAGES, extra=IMAGES), C.INVALID_ARGUMENT,
        "input size does not match signature: 2!=1 len({extra,image_bytes}) != "
        "len({image_bytes}). Sent extra: {extra}. Missing but required: {}."),
    Row("no inputs", "grpc", predict(), C.INVALID_ARGUMENT,
        "input size does not match signature: 0!=1 len({}) != len({image_bytes}). "
        "Sent extra: {}. Missing but required: {image_bytes}."),
    Row("wrong input name", "grpc", predict(pixels=IMAGES), C.INVALID_ARGUMENT,
        "not found in request and no default value provided. Inputs expected to be in the "
        "request {pixels}"),
    Row("no inputs", "rest", ("POST", "models/tiny:predict", {"signature_name": ""}),
        C.INVALID_ARGUMENT, "Missing 'inputs' or 'instances' key"),
    Row("wrong input name", "rest", ("POST", "models/tiny:predict",
        {"inputs": {"pixels": [B64]}}), C.INVALID_ARGUMENT,
        "Missing named input: image_bytes in 'inputs' object."),
    # TF's text ends at the alias; ours adds why in parentheses.
    Row("unparsable tensor", "grpc", bad_tensor(), C.INVALID_ARGUMENT,
        "tensor parsing error: image_bytes"),
    Row("unparsable JSON", "rest", ("POST", "models/tiny:predict", b"{"), C.INVALID_ARGUMENT,
        "JSON Parse error: Missing a name for object member. at offset: 1"),
    # TF's Session::Run says "Expects arg[0] to be string but float is provided": by position.
    Row("wrong dtype", "grpc", predict(image_bytes=np.zeros(1, np.float32)),
        C.INVALID_ARGUMENT, "Expects arg[image_bytes] to be string"),
    Row("wrong dtype", "rest", ("POST", "models/tiny:predict", {"instances": [1.5]}),
        C.INVALID_ARGUMENT, "JSON Value: 1.5 Type: Number is not of expected type: string"),
    Row("bad base64", "rest", ("POST", "models/tiny:predict", {"instances": [{"b64": "%"}]}),
        C.INVALID_ARGUMENT, "Unable to base64 decode"),
    Row("not an image", "grpc", predict(image_bytes=np.array([b"junk"], dtype=object)),
        C.INVALID_ARGUMENT, "Unknown image file format"),
    Row("not an image", "rest", ("POST", "models/tiny:predict",
        {"instances": [{"b64": base64.b64encode(b"junk").decode()}]}), C.INVALID_ARGUMENT,
        "Unknown image file format"),
    # -- outputs: predict_util.cc ---------------------------------------------------------------
    Row("unknown output", "grpc", predict(image_bytes=IMAGES, outputs=["nope"]),
        C.INVALID_ARGUMENT, "output tensor alias not found in signature: nope Outputs "
        "expected to be in the set {class_names,classes,probabilities}."),
    Row("duplicate output", "grpc", predict(image_bytes=IMAGES, outputs=["classes"] * 2),
        C.INVALID_ARGUMENT, "duplicate output tensor alias: classes"),
    # -- metadata: get_model_metadata_impl.cc ---------------------------------------------------
    Row("metadata without fields", "grpc", metadata(fields=()), C.INVALID_ARGUMENT,
        "GetModelMetadataRequest must specify at least one metadata_field"),
    # TF's own text is the unformatted "Metadata field %s is not supported" + name (a printf
    # pattern passed to StrCat); ours fills the name in.
    Row("unsupported metadata field", "grpc", metadata(fields=("nope",)), C.INVALID_ARGUMENT,
        "is not supported"),
    Row("metadata without model spec", "grpc", metadata(spec=False), C.INVALID_ARGUMENT,
        "Missing ModelSpec"),
    Row("metadata of unknown model", "grpc", metadata("nope"), C.NOT_FOUND,
        "Servable not found for request: Latest(nope)"),
    Row("metadata of unknown model", "rest", ("GET", "models/nope/metadata", None),
        C.NOT_FOUND, "Servable not found for request: Latest(nope)"),
    # -- status: get_model_status_impl.cc, http_rest_api_handler.cc -----------------------------
    Row("status of unknown model", "grpc", status("nope"), C.NOT_FOUND,
        "Could not find any versions of model nope"),
    Row("status of unknown model", "rest", ("GET", "models/nope", None), C.NOT_FOUND,
        "Could not find any versions of model nope"),
    Row("status of unknown version", "grpc", status(version=9), C.NOT_FOUND,
        "Could not find version 9 of model tiny"),
    Row("status of unknown version", "rest", ("GET", "models/tiny/versions/9", None),
        C.NOT_FOUND, "Could not find version 9 of model tiny"),
    Row("status of unknown label", "grpc", status(label="canary"), C.INVALID_ARGUMENT,
        "Unrecognized servable version label: canary"),
    Row("status of unknown label", "rest", ("GET", "models/tiny/labels/canary", None),
        C.INVALID_ARGUMENT, "Unrecognized servable version label: canary"),
    Row("status without model spec", "grpc", status(spec=False), C.INVALID_ARGUMENT,
        "Missing ModelSpec"),
    # -- REST routing: http_rest_api_handler.cc -------------------------------------------------
    Row("no model name", "rest", ("GET", "models", None), C.INVALID_ARGUMENT,
        "Missing model name in request."),
    Row("malformed path", "rest", ("POST", "foo", {}), C.INVALID_ARGUMENT,
        "Malformed request: POST /v1/foo"),
    Row("version not an int64", "rest", ("GET", "models/tiny/versions/99999999999999999999",
        None), C.INVALID_ARGUMENT, "Failed to convert version: 99999999999999999999 to numeric."),
    # -- OURS: APIs this image-classifier server does not serve ---------------------------------
    Row("classify", "grpc", ("Classify", classification_pb2.ClassificationRequest()),
        C.UNIMPLEMENTED, "Classify is not served; use Predict."),
    Row("classify", "rest", ("POST", "models/tiny:classify", {"examples": []}),
        C.UNIMPLEMENTED, "classify is not served; use :predict."),
]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("codes")
    export_tiny(root / "tiny")
    (root / "models.config").write_text(CONFIG % (root / "tiny"))
    with running_server(server_options(model_config_file=str(root / "models.config"))) as server:
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        yield server, channel
        channel.close()


def _grpc(channel, method: str, request):
    stubs = (
        prediction_service_pb2_grpc.PredictionServiceStub,
        model_service_pb2_grpc.ModelServiceStub,
    )
    stub = next(s(channel) for s in stubs if hasattr(s(channel), method))
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request, timeout=60)
    return info.value.code(), info.value.details()


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.protocol}: {r.name}" for r in ROWS])
def test_error_code_and_message(served, row):
    server, channel = served
    if row.protocol == "grpc":
        code, message = _grpc(channel, *row.request)
        assert code == row.code, message
    else:
        method, path, body = row.request
        url = f"http://127.0.0.1:{server.rest_port}/v1/{path}"
        status, answer = http(method, url, body)
        assert status == HTTP[row.code], answer
        assert set(answer) == {"error"}, answer  # TF Serving's error body, nothing else
        message = answer["error"]
    assert row.message in message


def test_table_covers_both_protocols():
    protocols = {r.protocol for r in ROWS}
    assert protocols == {"grpc", "rest"}
    both = {r.name for r in ROWS if r.protocol == "grpc"} & {
        r.name for r in ROWS if r.protocol == "rest"
    }
    assert len(both) >= 10, both  # the same mistake over either protocol gets the same code
    for name in both:
        codes = {r.code for r in ROWS if r.name == name}
        assert len(codes) == 1 or name == "unknown signature", name  # TF's one split
