"""`make bench-serving`: in-process vs REST vs gRPC throughput and latency (a benchmark, not a test).

    python -m keras_resnet.serving.tools.serving_bench [--model=resnet50] [--concurrency=1,8,32]
        [--seconds=10] [--quick]

Every request classifies one 224x224 JPEG through `serving_default` (decode, resize, normalise
and the network, all in the graph). "in-process" calls the loaded SavedModel from client threads
with no network; REST and gRPC go to the embedded server (`keras-resnet-serve --backend=embedded`) in a separate process, so client
and server do not share a GIL. Each path runs without and with server-side batching (the
export's batching_parameters.txt). The model has random weights: speed does not depend on them.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from ..core.options import ServerOptions
from .launch import embedded_command
from .testing import free_port

PROGRAM = "keras_resnet.serving.tools.serving_bench"


def export_once(model_name: str, export_dir: str) -> str:
    """Exports a randomly initialised model the first time; later runs reuse it."""
    if os.path.isdir(os.path.join(export_dir, "1")):
        return export_dir
    import keras_resnet
    from keras_resnet.export import export_model
    from keras_resnet.export.served_inputs import Preprocessing

    model = keras_resnet.create_model(model_name)
    _, h, w, _ = model.input_shape
    export_model(model, export_dir, Preprocessing(height=h, width=w, crop_fraction=0.875))
    return export_dir


def jpeg(size: int = 224) -> bytes:
    import tensorflow as tf

    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels, quality=90).numpy()


def measure(call, concurrency: int, seconds: float) -> dict:
    """Runs `call()` from `concurrency` threads for `seconds`; throughput and latency stats."""
    for _ in range(2):
        call()  # warm-up outside the timed window
    latencies, errors, stop = [], [], threading.Event()

    def worker():
        while not stop.is_set():
            start = time.perf_counter()
            try:
                call()
            except Exception as e:  # noqa: BLE001 - count and report, keep measuring
                errors.append(repr(e))
                continue
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1e3 if latencies else np.array([np.nan])
    return {
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": len(errors),
    }


def in_process_call(export_dir: str, image: bytes, batching: bool):
    from ..core.batching import Batcher
    from ..core.config import read_batching_parameters
    from ..core.servable import Servable

    servable = Servable("bench", 1, os.path.join(export_dir, "1"))
    batcher = None
    if batching:
        batcher = Batcher(
            read_batching_parameters(os.path.join(export_dir, "batching_parameters.txt"))
        )
    inputs = {"image_bytes": np.array([image], dtype=object)}

    def call():
        if batcher is None:
            return servable.run("serving_default", inputs)
        return batcher.submit(servable, "serving_default", inputs).result()

    return call, (batcher.close if batcher else (lambda: None))


class ServerProcess:
    """The embedded server in a process of its own on free ports, as a context manager."""

    def __init__(self, export_dir: str, batching: bool):
        self.grpc_port, self.rest_port = free_port(), free_port()
        options = ServerOptions(
            port=self.grpc_port,
            rest_api_port=self.rest_port,
            model_name="bench",
            model_base_path=os.path.abspath(export_dir),
            enable_batching=batching,
            batching_parameters_file=f"{export_dir}/batching_parameters.txt" if batching else "",
        )
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen(
            embedded_command(options),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self):
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the embedded server exited during start-up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=2)
                conn.request("GET", "/v1/models/bench")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the embedded server did not start within 300 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def rest_call(port: int, image: bytes):
    body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]})
    local = threading.local()

    def call():
        if not hasattr(local, "conn"):  # one keep-alive connection per client thread
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        local.conn.request("POST", "/v1/models/bench:predict", body)
        response = local.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(payload[:200])

    return call


def grpc_call(port: int, image: bytes):
    from . import client

    channel = client.grpc_channel(f"127.0.0.1:{port}")
    return lambda: client.predict_grpc(channel, "bench", [image], timeout=120)


def run(
    model: str = "resnet50",
    concurrency: tuple[int, ...] = (1, 8, 32),
    seconds: float = 10.0,
    workdir: str = "runs/bench-serving",
) -> list[dict]:
    """One row per path (in-process, REST, gRPC), batching off and on, and concurrency: each
    cell `seconds` long, against a randomly initialised `model` exported under `workdir`."""
    export_dir = export_once(model, os.path.join(workdir, model))
    image = jpeg()
    rows = []

    def record(path, batching, concurrency, stats):
        row = {"path": path, "batching": batching, "concurrency": concurrency, **stats}
        rows.append(row)
        print(
            f"{path:10s} batching={'on ' if batching else 'off'} c={concurrency:<3d} "
            f"{stats['req_per_s']:7.2f} req/s  p50 {stats['p50_ms']:8.1f} ms  "
            f"p99 {stats['p99_ms']:8.1f} ms  errors {stats['errors']}",
            flush=True,
        )

    for batching in (False, True):
        call, close = in_process_call(export_dir, image, batching)
        for c in concurrency:
            record("in-process", batching, c, measure(call, c, seconds))
        close()
        with ServerProcess(export_dir, batching) as server:
            for path, make in (("REST", rest_call), ("gRPC", grpc_call)):
                call = make(server.rest_port if path == "REST" else server.grpc_port, image)
                for c in concurrency:
                    record(path, batching, c, measure(call, c, seconds))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| path | batching | concurrency | req/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {'on' if r['batching'] else 'off'} | {r['concurrency']} | "
            f"{r['req_per_s']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("model", "resnet50", "a registered model name", **where)
    flags.DEFINE_list("concurrency", ["1", "8", "32"], "client threads, one cell each", **where)
    flags.DEFINE_float("seconds", 10.0, "timed window per cell", lower_bound=0, **where)
    flags.DEFINE_boolean("quick", False, "3 s per cell", **where)
    flags.DEFINE_string("workdir", "runs/bench-serving", "where the export is kept", **where)
    flags.DEFINE_string("json", None, "also write the rows here", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common

    values, rest = common.parse_flags(PROGRAM, __doc__, _define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    try:
        concurrency = tuple(int(c) for c in values["concurrency"].value)
    except ValueError:
        common.fail(f"--concurrency takes integers, got {','.join(values['concurrency'].value)}.")
    seconds = 3.0 if values["quick"].value else values["seconds"].value
    rows = run(values["model"].value, concurrency, seconds, values["workdir"].value)
    print()
    print(markdown(rows))
    base = {
        r["batching"]: r["req_per_s"]
        for r in rows
        if r["path"] == "in-process" and r["concurrency"] == 8
    }
    grpc8 = [
        r["req_per_s"]
        for r in rows
        if r["path"] == "gRPC" and r["batching"] and r["concurrency"] == 8
    ]
    if grpc8 and base:
        print(
            f"\ngRPC+batching at c=8: {grpc8[0] / base[False]:.2f}x in-process without batching, "
            f"{grpc8[0] / base[True]:.2f}x in-process with batching (target >= 0.8x)"
        )
    if values["json"].value:
        with open(values["json"].value, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
