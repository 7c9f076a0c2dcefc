"""Hypothesis strategies and a raw HTTP/1.1 sender for fuzzing the embedded server.

The sender writes bytes to a socket itself: urllib and http.client refuse (or repair) most of
the malformed requests worth sending. Strategies mix pure noise with near-valid requests, since
noise alone is rejected by the first parser it meets and never reaches the deeper code.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket

import numpy as np
from hypothesis import strategies as st
from tensorflow_serving.apis import predict_pb2

from keras_resnet.serving.tools.testing import png, random_pixels

PNG_B64 = base64.b64encode(png(random_pixels(1, seed=3)[0])).decode()
# Names that would walk the filesystem if any request path ever reached it.
TRAVERSAL = [
    "..",
    "../../etc",
    "../../../etc/passwd",
    "/etc/passwd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc",
    "..%2F..%2Fetc%2Fpasswd",
    "tiny/../tiny",
    "C:\\Windows",
    "~root",
]
HUGE_NUMBERS = ["1e999", "-1e400", "1e-400", "1" * 30, "9" * 5000, "18446744073709551616"]
HUGE_NUMBERS += ["-9223372036854775809", "NaN", "Infinity", "-0", "0.1e1"]


# -- HTTP ---------------------------------------------------------------------------------------
def mostly(common, rare, weight: int = 6):
    """`common` `weight` times as often as `rare` (st.one_of picks its branches evenly)."""
    return st.sampled_from([True] * weight + [False]).flatmap(lambda c: common if c else rare)


# Weighted towards the served model and :predict, so that most examples reach the model code.
model_names = mostly(
    st.sampled_from(["tiny"] * 12 + ["nope", "TINY", "", *TRAVERSAL]), st.text(max_size=20)
)
versions = st.integers(-5, 5).map(str) | st.sampled_from(["99999999999999999999", "9" * 5000, "x"])
ROUTES = [""] * 4 + ["/versions/{v}", "/labels/{v}", "/labels/stable", "/versions/{v}/"]
SUFFIXES = [":predict"] * 6 + [":PREDICT", ":classify", ":regress", "", "/metadata"]


@st.composite
def paths(draw) -> bytes:
    name = draw(model_names)
    route = draw(st.sampled_from(ROUTES)).format(v=draw(versions))
    path = f"/v1/models/{name}{route}{draw(st.sampled_from(SUFFIXES))}"
    path = draw(
        st.sampled_from([path] * 8 + [path.replace("/v1/", "/V1/"), "/v1/models", "/v1", "/"])
    )
    encoded = path.encode("utf-8", "surrogatepass")
    # Replace what a request line cannot carry; raw bytes are tried separately.
    safe = bytes(b if 0x21 <= b < 0x7F else 0x5F for b in encoded)
    return draw(mostly(st.sampled_from([safe] * 6 + [encoded]), st.binary(min_size=1, max_size=40)))


def json_values(max_leaves=15):
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=10)
        | st.just({"b64": PNG_B64})
        | st.sampled_from([{"b64": "%%%"}, {"b64": "YQ"}, {"b64": 5}, {"b64": ""}])
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


pixels = st.integers(0, 3).flatmap(
    lambda n: st.sampled_from(
        [np.zeros((n, 16, 16, 3)).tolist(), np.ones((n, 2, 3)).tolist(), [[[[1, 2, 3]]]] * n]
    )
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "signature_name": st.sampled_from(["serving_default", "predict_images", "", "nope", 7]),
        "instances": st.lists(json_values(4), max_size=3) | pixels | json_values(),
        "inputs": st.dictionaries(st.text(max_size=12), json_values(6), max_size=2) | pixels,
    },
)


def _special_bodies():
    deep = st.integers(1, 200_000).map(lambda n: b'{"instances": ' + b"[" * n + b"]" * n + b"}")
    giant = st.integers(0, 300_000).map(
        lambda n: b'{"signature_name": "predict_images", "instances": [' + b"1," * n + b"1]}"
    )
    huge = st.tuples(st.sampled_from(HUGE_NUMBERS), st.sampled_from(["predict_images", ""])).map(
        lambda t: f'{{"signature_name": "{t[1]}", "instances": [[[[{t[0]}, 1, 2]]]]}}'.encode()
    )
    utf8 = st.sampled_from(
        [
            b'{"instances": ["\xff\xfe"]}',
            b'{"signature_name": "\xc3\x28", "instances": [1]}',
            b'{"instances": ["\\ud800"]}',
            b'{"instances": [{"b64": "\\udfff"}]}',
            b'\xef\xbb\xbf{"instances": []}',
            b'{"\xff": 1}',
        ]
    )
    b64 = st.text(max_size=12).map(lambda t: json.dumps({"instances": [{"b64": t}]}).encode())
    return deep | giant | huge | utf8 | b64


def _dumps(doc) -> bytes:
    return json.dumps(doc).encode("utf-8", "surrogatepass")


bodies = (
    requests.map(_dumps)
    | json_values().map(_dumps)
    | st.binary(max_size=300)
    | _special_bodies()
    | st.tuples(requests.map(_dumps), st.integers(0, 200), st.binary(min_size=1, max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]  # a valid request with bytes spliced in
    )
)
header_names = mostly(
    st.sampled_from(
        ["Content-Type", "Content-Encoding", "Accept", "Accept-Encoding", "Expect", "Connection"]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz-_XYZ", min_size=1, max_size=12),
)
header_values = mostly(
    st.sampled_from(
        ["application/json", "gzip", "deflate", "br", "identity", "100-continue", "close", "*/*"]
    ),
    st.binary(max_size=30).map(
        lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")
    ),
)
headers = mostly(st.just([]), st.lists(st.tuples(header_names, header_values), max_size=3), 2)
framings = mostly(
    st.just("length"), st.sampled_from(["chunked", "bad-chunked", "short", "huge", "both", "none"])
)
methods = mostly(
    st.sampled_from(["POST"] * 4 + ["GET"] * 2 + ["PUT", "HEAD", "OPTIONS"]),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
    10,
)


def raw_http(port: int, method: str, path: bytes, headers, body: bytes, framing: str):
    """(status, headers dict, body bytes) of one raw HTTP/1.1 request; None if the server
    closed the connection without answering (allowed only for unparseable framing)."""
    lines = [f"{method} ".encode() + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{k}: ".encode() + v.encode("latin-1") for k, v in headers]
    if framing in ("length", "both"):
        lines.append(f"Content-Length: {len(body)}".encode())
    elif framing == "short":
        lines.append(f"Content-Length: {len(body) // 2}".encode())
    elif framing == "huge":
        lines.append(b"Content-Length: 1000000000000")
    if framing in ("chunked", "bad-chunked", "both"):
        lines.append(b"Transfer-Encoding: chunked")
        size = b"zz" if framing == "bad-chunked" else f"{len(body):x}".encode()
        body = (size + b"\r\n" + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and closed: read what it said
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            return response.status, dict(response.getheaders()), response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None


# -- gRPC ---------------------------------------------------------------------------------------
GRPC_METHODS = [
    "/tensorflow.serving.PredictionService/Predict",
    "/tensorflow.serving.PredictionService/GetModelMetadata",
    "/tensorflow.serving.PredictionService/Classify",
    "/tensorflow.serving.ModelService/GetModelStatus",
]


@st.composite
def tensor_protos(draw):
    from tensorflow.core.framework import tensor_pb2, types_pb2

    proto = tensor_pb2.TensorProto()
    proto.dtype = draw(
        st.sampled_from([types_pb2.DT_STRING, types_pb2.DT_FLOAT, types_pb2.DT_HALF])
        | st.integers(0, 130)
    )
    for size in draw(st.lists(st.integers(-2, 20) | st.sampled_from([2**31, 2**62]), max_size=5)):
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_shape.unknown_rank = draw(st.booleans())
    content = draw(st.sampled_from(["content", "strings", "png", "floats", "none"]))
    if content == "content":
        proto.tensor_content = draw(st.binary(max_size=3100))
    elif content == "strings":
        proto.string_val.extend(draw(st.lists(st.binary(max_size=30), max_size=3)))
    elif content == "png":
        proto.string_val.append(base64.b64decode(PNG_B64))
    elif content == "floats":
        proto.float_val.extend(draw(st.lists(st.floats(width=32), max_size=8)))
    return proto


@st.composite
def predict_requests(draw) -> bytes:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = draw(model_names)
    choice = draw(st.sampled_from(["latest"] * 4 + ["version", "label"]))
    if choice == "version":
        request.model_spec.version.value = draw(
            st.integers(-1, 2) | st.integers(-(2**63), 2**63 - 1)
        )
    elif choice == "label":
        request.model_spec.version_label = draw(st.sampled_from(["stable", "..", ""]))
    request.model_spec.signature_name = draw(
        st.sampled_from(["", "serving_default", "predict_images", "nope"])
    )
    aliases = st.sampled_from(["image_bytes", "images", "x", ""])
    for alias, proto in draw(st.dictionaries(aliases, tensor_protos(), max_size=2)).items():
        request.inputs[alias].CopyFrom(proto)
    request.output_filter.extend(draw(st.lists(st.sampled_from(["classes", "nope"]), max_size=2)))
    return request.SerializeToString()


grpc_calls = st.tuples(
    st.sampled_from(GRPC_METHODS), predict_requests() | st.binary(max_size=200)
) | st.tuples(st.just(GRPC_METHODS[0]), predict_requests())
