"""Security properties of the embedded server and of loading (see SECURITY.md): it listens on
127.0.0.1 unless told otherwise, no part of a request becomes a filesystem path, `.keras` files
load in safe mode, and nothing in the source tree unpickles."""

import ipaddress
import os
import re
import sys
import threading
import urllib.parse

import grpc
import psutil
import pytest
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_resnet.serving.tools import client
from keras_resnet.serving.tools.testing import export_tiny, http, running_server, server_options
from tests import fuzzing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("keras_resnet", "serving", "experiments")

# Filesystem events seen while `_recording` is set (audit hooks cannot be removed, so the one
# hook stays installed for the session and records only inside the window).
_EVENTS = ("open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rename", "os.chdir")
_seen: list = []
_recording = threading.Event()


def _audit(event, args):
    if _recording.is_set() and event in _EVENTS and args:
        _seen.append((event, str(args[0])))


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("security") / "tiny"
    export_tiny(base)
    with running_server(server_options(base, file_system_poll_wait_seconds=0.2)) as server:
        yield server


def test_binds_loopback_only_by_default(served):
    ports = {served.rest_port, served.grpc_port}
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    ]
    assert {a.port for a in listening} == ports
    # gRPC's dual-stack socket reports 127.0.0.1 as "::ffff:127.0.0.1": still loopback only.
    for address in listening:
        ip = ipaddress.ip_address(address.ip)
        assert (getattr(ip, "ipv4_mapped", None) or ip) == ipaddress.ip_address("127.0.0.1"), ip


def test_request_names_never_reach_the_filesystem(served):
    names = fuzzing.TRAVERSAL + [os.path.dirname(served.manager.models["tiny"].base_path), "1"]
    rest = f"http://127.0.0.1:{served.rest_port}/v1/models"
    channel = client.grpc_channel(f"127.0.0.1:{served.grpc_port}")
    predict = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus
    answers = []
    _seen.clear()
    _recording.set()
    try:
        for name in names:
            quoted = urllib.parse.quote(name, safe="%")
            for path in (
                f"/{quoted}:predict",
                f"/tiny/labels/{quoted}:predict",
                f"/{quoted}/versions/1",
                f"/{quoted}/metadata",
            ):
                method = "POST" if path.endswith(":predict") else "GET"
                answers.append(http(method, rest + path, b'{"instances": [1]}')[0])
            request = predict_pb2.PredictRequest()
            request.model_spec.name = name
            request.inputs["image_bytes"].string_val.append(name.encode())
            for stub, message in (
                (predict, request),
                (status, get_model_status_pb2.GetModelStatusRequest(model_spec=request.model_spec)),
            ):
                with pytest.raises(grpc.RpcError) as info:
                    stub(message, timeout=30)
                answers.append(info.value.code())
    finally:
        _recording.clear()
        channel.close()
    assert set(answers) <= {400, 404, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}
    # The version poller lists the base path meanwhile; nothing else may touch the disk, least
    # of all anything a request named.
    base = served.manager.models["tiny"].base_path
    library = (sys.prefix, sys.base_prefix)  # Python's own lazy imports, if any
    touched = [(e, p) for e, p in _seen if not p.startswith((base, *library))]
    assert touched == [], touched
    assert not any(".." in p for _, p in _seen), _seen


def _source_files():
    for top in SOURCES:
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, encoding="utf-8") as f:
                        yield os.path.relpath(path, ROOT), f.read()


FORBIDDEN = {
    r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b": "an unpickler",
    r"\bpickle\.loads?\(": "pickle.load",
    r"allow_pickle\s*=\s*True": "np.load(allow_pickle=True)",
    r"safe_mode\s*=\s*False": "keras loading outside safe mode",
    r"enable_unsafe_deserialization": "keras unsafe deserialization",
    r"weights_only\s*=\s*False": "torch.load of pickled objects",
    r"yaml\.(unsafe_)?load\(": "yaml.load (use safe_load)",
}


def test_nothing_unpickles_and_keras_stays_in_safe_mode():
    found = []
    for path, text in _source_files():
        for pattern, what in FORBIDDEN.items():
            for match in re.finditer(pattern, text, re.M):
                found.append(f"{path}: {what}: {match.group(0).strip()}")
        # torch.load unpickles unless told weights_only=True; np.load must say allow_pickle=False
        # so that a later default change cannot open it up.
        for call in re.finditer(r"\b(torch\.load|np\.load)\((.*)", text):  # rest of the line
            arguments = call.group(2)
            if "weights_only=True" not in arguments and "allow_pickle=False" not in arguments:
                if not (call.group(1) == "np.load" and "pipeline.py" in path):
                    found.append(f"{path}: {call.group(0)}")
    assert found == [], found


def test_np_load_without_flag_reads_only_plain_arrays():
    # keras_resnet/data/pipeline.py calls np.load(path) on its own cache files: numpy's default
    # since 1.16.3 is allow_pickle=False, which this checks stays true in the pinned numpy.
    import inspect

    import numpy as np

    assert inspect.signature(np.load).parameters["allow_pickle"].default is False
