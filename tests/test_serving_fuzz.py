"""Fuzzing the embedded server: malformed HTTP and gRPC input never earns a 5xx, never takes the
server down, and never changes what a valid request gets back.

The quick profile runs by default; `-m slow` runs ten times as many examples with fresh seeds.
"""

import base64
import json
import time

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_resnet.serving.tools import client
from keras_resnet.serving.tools.testing import export_tiny, http, running_server, server_options
from tests import fuzzing

CONFIG = """model_config_list {{ config {{
  name: "tiny" base_path: "{base}"
  version_labels {{ key: "stable" value: 1 }}
}} }}"""
LIMIT = 1 << 20  # small, so that giant bodies meet it and smaller ones get past it
QUICK = settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,  # the default suite sees the same inputs every run
    suppress_health_check=list(HealthCheck),
)
THOROUGH = settings(QUICK, max_examples=1000, derandomize=False)
# Client mistakes get 4xx. 501 is what an unserved API (:classify/:regress) is, not a fault.
GRPC_CLIENT_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,  # an unknown signature, as TF Serving's Predict says
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
STATS = {"rest": 0, "grpc": 0, "rest_status": {}, "grpc_code": {}, "rest_errors": {}}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    export_tiny(root / "tiny")
    (root / "models.config").write_text(CONFIG.format(base=root / "tiny"))
    options = server_options(
        model_config_file=str(root / "models.config"),
        max_request_bytes=LIMIT,
        rest_api_timeout_in_ms=20000,
        file_system_poll_wait_seconds=0,
    )
    with running_server(options) as server:
        channel = client.grpc_channel(f"127.0.0.1:{server.grpc_port}")
        known = _known_good(server, channel)
        yield server, channel, known
        # Whatever the fuzzers sent, the server still answers exactly as before.
        assert _known_good(server, channel) == known
        channel.close()
    (root / "fuzz_stats.json").write_text(json.dumps(STATS, sort_keys=True, default=str))
    print(f"\nfuzz examples ({root / 'fuzz_stats.json'}): {json.dumps(STATS, default=str)}")


def _known_good(server, channel):
    body = {"instances": [{"b64": fuzzing.PNG_B64}] * 2}
    url = f"http://127.0.0.1:{server.rest_port}/v1/models/tiny:predict"
    status, rest = http("POST", url, body)
    assert status == 200, rest
    grpc_out = client.predict_grpc(channel, "tiny", [base64.b64decode(fuzzing.PNG_B64)])
    return json.dumps(rest), grpc_out["probabilities"].tobytes()


def _check_rest(server, method, path, headers, body, framing):
    answer = fuzzing.raw_http(server.rest_port, method, path, headers, body, framing)
    if answer is None:
        # Only a request the HTTP parser cannot frame may be dropped without an answer.
        assert framing in ("bad-chunked", "both", "short"), (method, path, headers, framing)
        return
    status, answer_headers, text = answer
    STATS["rest"] += 1
    STATS["rest_status"][status] = STATS["rest_status"].get(status, 0) + 1
    unserved_api = status == 501 and b"is not served" in text
    assert status < 500 or unserved_api, (status, text[:300], method, path, headers, framing)
    if not answer_headers.get("Content-Type", "").startswith("application/json"):
        reason = text[:50].decode("latin-1")
        STATS["rest_errors"][reason] = STATS["rest_errors"].get(reason, 0) + 1
    is_json = answer_headers.get("Content-Type", "").startswith("application/json")
    if is_json and status != 200 and method != "HEAD":  # HEAD answers carry no body
        error = json.loads(text)
        assert list(error) == ["error"] and isinstance(error["error"], str), error
        reason = error["error"][:40]
        STATS["rest_errors"][reason] = STATS["rest_errors"].get(reason, 0) + 1


def _check_grpc(channel, method, payload):
    call = channel.unary_unary(method)  # raw bytes in and out: no client-side validation
    try:
        call(payload, timeout=30)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code, details = e.code(), e.details()
        assert code in GRPC_CLIENT_CODES, (code, details, method, payload[:200])
    STATS["grpc"] += 1
    STATS["grpc_code"][code.name] = STATS["grpc_code"].get(code.name, 0) + 1


def _rest_fuzz(served, method, path, headers, body, framing):
    server, _, _ = served
    _check_rest(server, method, path, headers, body, framing)


def _grpc_fuzz(served, call):
    _, channel, _ = served
    _check_grpc(channel, *call)


rest_args = dict(
    method=fuzzing.methods,
    path=fuzzing.paths(),
    headers=fuzzing.headers,
    body=fuzzing.bodies,
    framing=fuzzing.framings,
)


@QUICK
@given(**rest_args)
def test_rest_fuzz_quick(served, method, path, headers, body, framing):
    _rest_fuzz(served, method, path, headers, body, framing)


@QUICK
@given(call=fuzzing.grpc_calls)
def test_grpc_fuzz_quick(served, call):
    _grpc_fuzz(served, call)


@pytest.mark.slow
@THOROUGH
@given(**rest_args)
def test_rest_fuzz_thorough(served, method, path, headers, body, framing):
    _rest_fuzz(served, method, path, headers, body, framing)


@pytest.mark.slow
@THOROUGH
@given(call=fuzzing.grpc_calls)
def test_grpc_fuzz_thorough(served, call):
    _grpc_fuzz(served, call)


def test_grpc_garbage_tensors_and_proto_bytes(served):
    """Cases worth pinning down beyond the fuzzer's luck: each is a client mistake."""
    _, channel, _ = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    tensor = request.inputs["image_bytes"]
    tensor.dtype = 1  # DT_FLOAT, whose values repeat to fill a 2**62-element shape
    tensor.tensor_shape.dim.add(size=2**31)
    tensor.tensor_shape.dim.add(size=2**31)
    tensor.float_val.append(1.0)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max_request_bytes" in info.value.details()
    tensor.tensor_shape.dim[0].size = 1
    tensor.tensor_shape.dim[1].size = 3
    tensor.tensor_content = b"\x01\x02\x03"  # not a whole number of floats
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for garbage in (b"\xff" * 10, b"\x0a\x05\x0a\x03\xff\xfe\xfd"):  # junk; bad UTF-8 name
        started = time.monotonic()
        _check_grpc(channel, fuzzing.GRPC_METHODS[0], garbage)
        assert time.monotonic() - started < 10
    code = channel.unary_unary(fuzzing.GRPC_METHODS[0])
    with pytest.raises(grpc.RpcError) as info:
        code(b"\xff" * 10, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
