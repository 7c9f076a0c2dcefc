"""REST API of the embedded server: round trips and TF Serving's error answers, code for code."""

import base64

import numpy as np
import pytest

from keras_resnet.serving.tools.testing import (
    export_tiny,
    http,
    png,
    random_pixels,
    reference_probabilities,
    running_server,
    server_options,
)

CONFIG = """model_config_list {{ config {{
  name: "tiny" base_path: "{base}" model_platform: "tensorflow"
  version_labels {{ key: "stable" value: 1 }}
}} }}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    model, pre, path = export_tiny(root / "tiny")
    config = root / "models.config"
    config.write_text(CONFIG.format(base=root / "tiny"))
    with running_server(
        server_options(model_config_file=str(config), max_request_bytes=200000)
    ) as server:
        yield model, pre, f"http://127.0.0.1:{server.rest_port}"


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


@pytest.mark.parametrize("route", ["", "/versions/1", "/labels/stable"])
def test_predict_b64_rows_match_model(served, route):
    model, pre, url = served
    pixels = random_pixels(3, seed=2)
    status, body = http(
        "POST", f"{url}/v1/models/tiny{route}:predict", {"instances": [b64(png(p)) for p in pixels]}
    )
    assert status == 200, body
    rows = body["predictions"]
    assert [sorted(r) for r in rows] == [["class_names", "classes", "probabilities"]] * 3
    expected = reference_probabilities(model, pre, pixels)
    np.testing.assert_allclose([r["probabilities"] for r in rows], expected, atol=1e-5)
    assert [r["classes"] for r in rows] == expected.argmax(-1).tolist()


def test_predict_columnar_raw_pixels(served):
    model, pre, url = served
    pixels = random_pixels(2, seed=4)
    request = {"signature_name": "predict_images", "inputs": pixels.tolist()}
    status, body = http("POST", f"{url}/v1/models/tiny:predict", request)
    assert status == 200, body
    out = body["outputs"]
    np.testing.assert_allclose(
        out["probabilities"], reference_probabilities(model, pre, pixels), atol=1e-5
    )
    assert len(out["classes"]) == 2 and len(out["class_names"]) == 2


def test_status_and_metadata(served):
    _, _, url = served
    status, body = http("GET", f"{url}/v1/models/tiny")
    assert status == 200
    assert body == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert http("GET", f"{url}/v1/models/tiny/labels/stable")[0] == 200
    status, body = http("GET", f"{url}/v1/models/tiny/versions/1/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "tiny", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert signatures["serving_default"]["inputs"]["image_bytes"]["dtype"] == "DT_STRING"
    assert signatures["predict_images"]["outputs"]["classes"]["dtype"] == "DT_INT64"


def test_prometheus_metrics(served):
    _, _, url = served
    http("GET", f"{url}/v1/models/tiny")
    status, text = http("GET", f"{url}/monitoring/prometheus/metrics")
    assert status == 200
    assert ':tensorflow:serving:request_count_total{API="status",entrypoint="REST",' in text
    assert ":tensorflow:serving:request_latency_bucket" in text


PNG = png(random_pixels(1)[0])
ERRORS = [
    # (path suffix, body, HTTP status, error text TF Serving answers with)
    (":predict", b"", 400, "JSON Parse error: The document is empty"),
    (":predict", b"{", 400, "JSON Parse error: Missing a name for object member. at offset: 1"),
    (":predict", b"[1]", 400, "JSON Value: [1] Is not object"),
    (
        ":predict",
        {"instances": [b64(PNG)], "inputs": [b64(PNG)]},
        400,
        "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
    ),
    (":predict", {"signature_name": "serving_default"}, 400, "Missing 'inputs' or 'instances' key"),
    (":predict", {"instances": []}, 400, "No values in 'instances' array"),
    (
        ":predict",
        {"instances": [1.5]},
        400,
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: 1.5 "
        "Type: Number is not of expected type: string",
    ),
    (
        ":predict",
        {"signature_name": "predict_images", "instances": [[[[1, 2, 3]]], [[[1, 2]]]]},
        400,
        "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor "
        "size: 3 but got: 2",
    ),
    (
        ":predict",
        {"signature_name": "predict_images", "instances": [[[[1, 2, 3], [1, 2]]]]},
        400,
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Encountered list "
        "at unexpected size: 2 at level: 2 expected size: 3",
    ),
    (
        ":predict",
        {"signature_name": "predict_images", "instances": [[[["a", 2, 3]]]]},
        400,
        "Type: String is not of expected type: float",
    ),
    (
        ":predict",
        {"signature_name": 7, "instances": [1]},
        400,
        "'signature_name' key must be a string value.",
    ),
    (
        ":predict",
        {"signature_name": "nope", "instances": [b64(PNG)]},
        400,
        'Serving signature name: "nope" not found in signature def',
    ),
    (":predict", {"instances": [{"b64": "%%%"}]}, 400, "Unable to base64 decode"),
    (":predict", {"instances": [b64(b"not an image")]}, 400, "Unknown image file format"),
    (
        ":predict",
        {"signature_name": "predict_images", "instances": [[[[1, 2, 3]]]]},
        400,
        "not compatible with the signature's shape [-1, 16, 16, 3]",
    ),
    (
        "/versions/9:predict",
        {"instances": [b64(PNG)]},
        404,
        "Servable not found for request: Specific(tiny, 9)",
    ),
    (
        "/labels/canary:predict",
        {"instances": [b64(PNG)]},
        400,
        "Unrecognized servable version label: canary",
    ),
    ("/versions/9", None, 404, "Could not find version 9 of model tiny"),
    (
        "/versions/99999999999999999999",
        None,
        400,
        "Failed to convert version: 99999999999999999999 to numeric.",
    ),
    ("s:predict", {"instances": [b64(PNG)]}, 404, "Servable not found for request: Latest(tinys)"),
    (":regress", {"examples": []}, 501, "regress is not served"),
    (":predict", {"instances": ["x" * 300000]}, 413, "-byte limit (--max_request_bytes)"),
]


@pytest.mark.parametrize("suffix, body, code, message", ERRORS)
def test_tf_serving_errors(served, suffix, body, code, message):
    _, _, url = served
    method = "GET" if body is None else "POST"
    status, answer = http(method, f"{url}/v1/models/tiny{suffix}", body)
    assert status == code, answer
    assert set(answer) == {"error"}
    assert message in answer["error"]


def test_malformed_paths(served):
    _, _, url = served
    assert http("GET", f"{url}/v1/models") == (400, {"error": "Missing model name in request."})
    assert http("POST", f"{url}/v1/foo", b"{}") == (
        400,
        {"error": "Malformed request: POST /v1/foo"},
    )
