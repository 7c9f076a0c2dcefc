"""gRPC API of the embedded server, driven by tensorflow-serving-api's official stubs."""

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
    png,
    random_pixels,
    reference_probabilities,
    running_server,
    server_options,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc")
    model, pre, _ = export_tiny(root / "tiny")
    with running_server(server_options(root / "tiny", rest_api_port=0)) as server:
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        yield model, pre, channel
        channel.close()


def predict_request(signature="serving_default", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_bytes_matches_model(served):
    model, pre, channel = served
    pixels = random_pixels(4, seed=5)
    result = client.predict_grpc(channel, "tiny", [png(p) for p in pixels])
    expected = reference_probabilities(model, pre, pixels)
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(result["classes"], expected.argmax(-1))


def test_predict_images_with_output_filter(served):
    model, pre, channel = served
    pixels = random_pixels(2, seed=6).astype(np.float32)
    request = predict_request("predict_images", images=pixels)
    request.output_filter.append("probabilities")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["probabilities"]
    assert (response.model_spec.version.value, response.model_spec.signature_name) == (
        1,
        "predict_images",
    )
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["probabilities"]),
        reference_probabilities(model, pre, pixels),
        atol=1e-5,
    )


def test_metadata_and_status(served):
    _, _, channel = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "tiny"
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert {"serving_default", "predict_images"} <= set(signatures.signature_def)
    status_stub = model_service_pb2_grpc.ModelServiceStub(channel)
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "tiny"
    (version,) = status_stub.GetModelStatus(status_request, timeout=30).model_version_status
    assert version.version == 1
    assert version.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


def _code(channel, request, method="Predict"):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request, timeout=30)
    return info.value.code(), info.value.details()


def test_errors_use_tf_serving_status_codes(served):
    _, _, channel = served
    image = np.array([png(random_pixels(1)[0])], dtype=object)
    unknown = predict_request(image_bytes=image)
    unknown.model_spec.name = "nope"
    assert _code(channel, unknown) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(nope)",
    )
    version = predict_request(image_bytes=image)
    version.model_spec.version.value = 3
    assert _code(channel, version)[0] == grpc.StatusCode.NOT_FOUND
    label = predict_request(image_bytes=image)
    label.model_spec.version_label = "canary"
    assert _code(channel, label)[0] == grpc.StatusCode.INVALID_ARGUMENT
    # TF Serving's Predict answers FAILED_PRECONDITION here (REST: INVALID_ARGUMENT).
    assert _code(channel, predict_request("nope", image_bytes=image)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "nope" not found.',
    )
    code, details = _code(channel, predict_request(image_bytes=np.array([b"junk"], dtype=object)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Unknown image file format" in details
    code, details = _code(channel, predict_request(pixels=np.zeros((1, 16, 16, 3), np.float32)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("Signature input alias: image_bytes(feed name: ")
    code, _ = _code(channel, predict_request(image_bytes=np.zeros((1,), np.float32)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    classify = classification_pb2.ClassificationRequest()
    assert _code(channel, classify, "Classify")[0] == grpc.StatusCode.UNIMPLEMENTED


def test_messages_above_grpc_default_limit_get_through(served):
    _, _, channel = served
    # 6 MiB is over gRPC's 4 MiB default: it must reach the model (and fail decoding there).
    code, details = _code(
        channel, predict_request(image_bytes=np.array([b"\0" * (6 << 20)], dtype=object))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "image" in details.lower()
