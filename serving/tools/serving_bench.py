"""`make bench-serving`: in-process vs REST vs gRPC throughput and latency (a benchmark, not a test).

    python -m keras_resnet.serving.tools.serving_bench [--model=resnet50] [--concurrency=1,8,32]
        [--precisions=float32,bfloat16] [--seconds=10] [--quick] [--out=bench]

Every request classifies one 224x224 JPEG through `serving_default` (decode, resize, normalise
and the network, all in the graph). Each precision is exported as `keras-resnet-export` writes
it by default: BN folded; float32 with its weights as variables, bfloat16 as constants
(keras_resnet.export.savedmodel.constants_by_default). "in-process" calls the loaded SavedModel
from client threads with no network; REST and gRPC go to the embedded server
(`keras-resnet-serve --backend=embedded`) in a separate process, so client and server do not
share a GIL. Each path runs without and with server-side batching (the export's
batching_parameters.txt). The model has random weights: speed does not depend on them.
`--out=DIR` writes DIR/serving-<host>.{json,md} (serving_report).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shlex
import sys
import threading
import time

import numpy as np

from ..core import thread_pools
from . import serving_report
from .testing import ServerProcess, server_options

PROGRAM = "keras_resnet.serving.tools.serving_bench"


PRECISIONS = ("float32", "bfloat16", "float16")


def export_once(model_name: str, export_dir: str, precision: str = "float32") -> str:
    """Exports a randomly initialised model in `precision` (the exporter's default weights)
    the first time; later runs reuse it. Returns how its weights are stored."""
    if not os.path.isdir(os.path.join(export_dir, "1")):
        import keras_resnet
        from keras_resnet.export import export_model
        from keras_resnet.export.served_inputs import Preprocessing

        model = keras_resnet.create_model(model_name)
        _, h, w, _ = model.input_shape
        pre = Preprocessing(height=h, width=w, crop_fraction=0.875)
        export_model(model, export_dir, pre, precision=precision)
    with open(os.path.join(export_dir, "1", "assets.extra", "export_info.json")) as f:
        info = json.load(f)
    if info["precision"] != precision:
        raise ValueError(f"{export_dir} holds a {info['precision']} export, not {precision}.")
    return info["weights"]


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
    precisions: tuple[str, ...] = ("float32", "bfloat16"),
) -> list[dict]:
    """One row per precision, path (in-process, REST, gRPC), batching off and on, and
    concurrency: each cell `seconds` long, against a randomly initialised `model` exported in
    each precision under `workdir`."""
    image = jpeg()
    rows = []

    def record(precision, weights, path, batching, concurrency, stats):
        row = {"precision": precision, "weights": weights, "path": path}
        row.update(batching=batching, concurrency=concurrency, **stats)
        rows.append(row)
        print(
            f"{precision:9s} {path:10s} batching={'on ' if batching else 'off'} "
            f"c={concurrency:<3d} {stats['req_per_s']:7.2f} req/s  p50 {stats['p50_ms']:8.1f} ms"
            f"  p99 {stats['p99_ms']:8.1f} ms  errors {stats['errors']}",
            flush=True,
        )

    for precision in precisions:
        export_dir = os.path.join(workdir, f"{model}-{precision}")
        weights = export_once(model, export_dir, precision)
        for batching in (False, True):
            call, close = in_process_call(export_dir, image, batching)
            for c in concurrency:
                stats = measure(call, c, seconds)
                record(precision, weights, "in-process", batching, c, stats)
            close()
            options = server_options(
                model_name="bench",
                model_base_path=os.path.abspath(export_dir),
                enable_batching=batching,
                batching_parameters_file=f"{export_dir}/batching_parameters.txt"
                if batching
                else "",
            )
            with ServerProcess(options) as server:
                for path, make in (("REST", rest_call), ("gRPC", grpc_call)):
                    call = make(server.rest_port if path == "REST" else server.grpc_port, image)
                    for c in concurrency:
                        record(precision, weights, path, batching, c, measure(call, c, seconds))
    return rows


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("model", "resnet50", "a registered model name", **where)
    flags.DEFINE_list("concurrency", ["1", "8", "32"], "client threads, one cell each", **where)
    flags.DEFINE_float("seconds", 10.0, "timed window per cell", lower_bound=0, **where)
    flags.DEFINE_boolean("quick", False, "3 s per cell", **where)
    flags.DEFINE_list(
        "precisions", ["float32", "bfloat16"], f"exports to serve, of {PRECISIONS}", **where
    )
    flags.DEFINE_string("workdir", "runs/bench-serving", "where the exports are kept", **where)
    flags.DEFINE_string("out", None, "also write serving-<host>.{json,md} in this folder", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common

    values, rest = common.parse_flags(PROGRAM, __doc__, _define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    try:
        concurrency = tuple(int(c) for c in values["concurrency"].value)
    except ValueError:
        common.fail(f"--concurrency takes integers, got {','.join(values['concurrency'].value)}.")
    precisions = tuple(values["precisions"].value)
    if not precisions or set(precisions) - set(PRECISIONS):
        common.fail(f"--precisions takes {','.join(PRECISIONS)}, got {','.join(precisions)}.")
    seconds = 3.0 if values["quick"].value else values["seconds"].value
    rows = run(values["model"].value, concurrency, seconds, values["workdir"].value, precisions)
    print("\n" + serving_report.markdown(rows) + "\n")
    print("\n".join(serving_report.precision_lines(rows)))
    if values["out"].value:
        from keras_resnet import machine

        command = shlex.join(["python", "-m", PROGRAM, *(sys.argv[1:] if argv is None else argv)])
        meta = {"model": values["model"].value, "seconds": seconds, "command": command}
        # The pools keras-resnet-serve gives the server process (ServerProcess runs it).
        meta["server_thread_pools"] = thread_pools.pool_sizes(thread_pools.available_cpus())
        base = serving_report.write(
            values["out"].value, rows, {**meta, "machine": machine.summary()}
        )
        print(f"Wrote {base}.json and {base}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
