"""Classify images against TF Serving (or the embedded server) over REST or gRPC.

    keras-resnet-predict IMAGE... --model=NAME [--rest=localhost:8501 | --grpc=localhost:8500]
        [--top_k=5] [--version=N | --label=L] [--timeout=30]

Sends the encoded JPEG/PNG bytes to the `serving_default` signature and prints the top-k classes
with their probabilities. The gRPC path uses the official tensorflow-serving-api stubs.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request

import numpy as np

MAX_MESSAGE_BYTES = 64 << 20


def predict_rest(
    address: str,
    model: str,
    images: list[bytes],
    *,
    version=None,
    label=None,
    timeout: float = 30.0,
) -> dict:
    """{"probabilities": [N, C] array, "classes": [N], "class_names": [N] or None}."""
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "")
    path += f"/labels/{label}" if label else ""
    body = json.dumps({"instances": [{"b64": base64.b64encode(i).decode()} for i in images]})
    request = urllib.request.Request(
        f"http://{address}{path}:predict",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            rows = json.loads(response.read())["predictions"]
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail)["error"]
        except (ValueError, KeyError):
            pass
        raise RuntimeError(f"HTTP {e.code}: {detail}") from None
    return {
        "probabilities": np.array([r["probabilities"] for r in rows], np.float32),
        "classes": np.array([r["classes"] for r in rows], np.int64),
        "class_names": [r["class_names"] for r in rows] if "class_names" in rows[0] else None,
    }


def grpc_channel(address: str):
    import grpc

    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    return grpc.insecure_channel(address, options=options)


def predict_grpc(
    address_or_channel,
    model: str,
    images: list[bytes],
    *,
    version=None,
    label=None,
    timeout: float = 30.0,
) -> dict:
    """Same result as predict_rest, through PredictionService.Predict."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    channel = address_or_channel
    if isinstance(channel, str):
        channel = grpc_channel(channel)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    if version:
        request.model_spec.version.value = int(version)
    elif label:
        request.model_spec.version_label = label
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    try:
        response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as e:
        raise RuntimeError(f"gRPC {e.code().name}: {e.details()}") from None
    out = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
    names = out.get("class_names")
    return {
        "probabilities": out["probabilities"],
        "classes": out["classes"],
        "class_names": None if names is None else [n.decode() for n in names],
    }


def top_k(result: dict, k: int) -> list[list[tuple[str, float]]]:
    """Per image, the k most probable (class, probability) pairs. The server names only the
    top class (`class_names`), so that one reads "index (name)" and the others "index"."""
    names = result.get("class_names")
    rows = []
    for i, probs in enumerate(result["probabilities"]):
        ranked = []
        for c in np.argsort(-probs)[:k]:
            label = str(int(c))
            if names and c == result["classes"][i]:
                label += f" ({names[i]})"
            ranked.append((label, float(probs[c])))
        rows.append(ranked)
    return rows


PROGRAM = "keras-resnet-predict"


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("model", None, "the model's name on the server (required)", **where)
    flags.DEFINE_string("rest", None, "host:port of the REST API (default localhost:8501)", **where)
    flags.DEFINE_string("grpc", None, "host:port of the gRPC API, instead of --rest", **where)
    flags.DEFINE_integer("top_k", 5, "classes printed per image", lower_bound=1, **where)
    flags.DEFINE_integer("version", None, "a version number, instead of the latest", **where)
    flags.DEFINE_string("label", None, "a version label, instead of --version", **where)
    flags.DEFINE_float("timeout", 30.0, "seconds per request", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common, extras

    values, paths = common.parse_flags(PROGRAM, __doc__, _define, argv)
    flag = {name: values[name].value for name in values}
    if not paths:
        common.fail("give one or more JPEG or PNG files to classify.")
    if not flag["model"]:
        common.fail("--model is required: the name the server serves the model under.")
    for one, other in (("rest", "grpc"), ("version", "label")):
        if flag[one] is not None and flag[other] is not None:
            common.fail(f"give --{one} or --{other}, not both.")
    images = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                images.append(f.read())
        except OSError as e:
            common.fail(f"cannot read {path}: {e.strerror}.")
    try:
        kwargs = dict(version=flag["version"], label=flag["label"], timeout=flag["timeout"])
        if flag["grpc"]:
            extras.require("serving")  # REST needs nothing beyond the library; gRPC its stubs
            result = predict_grpc(flag["grpc"], flag["model"], images, **kwargs)
        else:
            result = predict_rest(flag["rest"] or "localhost:8501", flag["model"], images, **kwargs)
    except (OSError, RuntimeError) as e:  # the server's answer, not the command line: exit 1
        print(f"{PROGRAM}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    for path, ranked in zip(paths, top_k(result, flag["top_k"])):
        print(path)
        for label, prob in ranked:
            print(f"  {prob:8.4f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
