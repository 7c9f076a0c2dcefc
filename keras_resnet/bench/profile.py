"""Where a served call's time goes: op-level profiles of the exported SavedModel and its peers.

    python -m keras_resnet.bench.profile [--calls=20] [--out=bench]

`make bench` says how fast each runtime is; this says why. Each runtime runs ResNet-50 v1.5
(the `served` cells' network) under its own profiler, at batch 1 and 32, and its time per call
is split by op type:

- the SavedModel's `predict_images` (every `served.EXPORTS` variant: float32 and bfloat16, the
  weights as variables and as constants), traced with `tf.profiler` (the XSpace trace: op
  events on the executor's threads, wall time on the calling thread);
- ONNX Runtime (float32) with its session profiler (each node's kernel time);
- OpenVINO (f32 and bf16 hints) with its per-layer performance counters.

"busy" is the sum of op times per call; where it exceeds the wall time, ops ran concurrently on
the executor's threads. The SavedModel is also broken down by oneDNN primitive and kernel
(`ONEDNN_VERBOSE`), which shows work inside an op, such as weight reorders. Writes
`profile-<host>.{md,json}`.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from keras_resnet.bench import peers, served


def _per_call(totals: dict, calls: int) -> dict:
    return {k: v / calls for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _kernel_events(path: str, batch: int, calls: int):
    """(wall s per call, [(op name, op type, ms)]) of `calls` traced calls of the SavedModel's
    `predict_images`, from a tf.profiler trace (XSpace) after a warm-up."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    predict = tf.saved_model.load(path).signatures["predict_images"]
    size = predict.structured_input_signature[1]["images"].shape[1:3]
    x = tf.random.uniform((batch, *size, 3), 0, 255)
    for _ in range(3):  # warm-up: graph optimisation, oneDNN primitive creation
        predict(images=x)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(calls):
            predict(images=x)["classes"].numpy()
        wall = (time.perf_counter() - start) / calls
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as f:
            space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's inter-op threads
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name.replace("::", ""):  # "op_name:OpType" is an op's kernel;
                    # "ExecutorState::Process" and the like are the executor's bookkeeping
                    op, kind = name.rsplit(":", 1)
                    events.append((op, kind, event.duration_ps / 1e9))  # ms
    return wall, events


def savedmodel(path: str, batch: int, calls: int) -> dict:
    """Op time by op type (ms per call) of `predict_images`, from a tf.profiler trace."""
    wall, events = _kernel_events(path, batch, calls)
    ops = collections.Counter()
    for _, kind, ms in events:
        ops[kind] += ms
    return {"wall_ms": 1e3 * wall, "ops_ms": _per_call(ops, calls)}


def conv_kernels(path: str) -> collections.Counter:
    """How many convolution ops of each kind one call of `predict_images` runs, as the
    optimised graph has them: e.g. {"_MklNativeFusedConv2D": 53} when grappler fused every
    convolution with its bias (and ReLU, and residual Add), {"_MklNativeConv2D": ...} for the
    ones it left alone. Read from the trace, so it is the graph TensorFlow actually runs."""
    _, events = _kernel_events(path, batch=1, calls=1)
    return collections.Counter(
        kind for _, kind in {(op, kind) for op, kind, _ in events} if "Conv" in kind
    )


def onednn(path: str, batch: int, calls: int) -> dict:
    """ms per call by oneDNN primitive and implementation inside the SavedModel's ops, read
    from `ONEDNN_VERBOSE=1` in a child process (the variable is read when oneDNN loads): what
    tf.profiler cannot see, such as weight reorders inside a convolution op."""
    code = (
        "import sys, tensorflow as tf\n"
        f"predict = tf.saved_model.load({path!r}).signatures['predict_images']\n"
        "size = predict.structured_input_signature[1]['images'].shape[1:3]\n"
        f"x = tf.random.uniform(({batch}, *size, 3), 0, 255)\n"
        "for _ in range(3): predict(images=x)['classes'].numpy()\n"
        "print('--- profiled calls', flush=True)\n"
        f"for _ in range({calls}): predict(images=x)['classes'].numpy()\n"
    )
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    ops = collections.Counter()
    for line in out.split("--- profiled calls", 1)[1].splitlines():
        fields = line.split(",")
        # onednn_verbose,v1,primitive,exec,cpu,<primitive>,<implementation>,...,<time ms>
        if line.startswith("onednn_verbose") and len(fields) > 7 and fields[3] == "exec":
            ops[f"{fields[5]} {fields[6]}"] += float(fields[-1])
    return {"ops_ms": _per_call(ops, calls)}


def onnxruntime(path: str, batch: int, calls: int, threads: int) -> dict | None:
    session = peers.onnxruntime_session(path, threads=threads, profile=True)
    if session is None:
        return None
    x = {"images": peers.images(batch)}
    for _ in range(3):
        session.run(None, x)
    start = time.perf_counter()
    for _ in range(calls):
        session.run(None, x)
    wall = (time.perf_counter() - start) / calls
    trace = session.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    ops = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            ops[e["args"]["op_name"]] += e["dur"] / 1e3  # µs -> ms
    # The profile covers the warm-up calls too.
    return {"wall_ms": 1e3 * wall, "ops_ms": _per_call(ops, calls + 3)}


def openvino(path: str, batch: int, calls: int, threads: int, mode: str) -> dict | None:
    request = peers.openvino_request(path, batch=batch, mode=mode, threads=threads, profile=True)
    if request is None:
        return None
    x = peers.images(batch)
    for _ in range(3):
        request.infer({"images": x})
    ops, start = collections.Counter(), time.perf_counter()
    for _ in range(calls):
        request.infer({"images": x})
        for info in request.get_profiling_info():  # the last call's per-layer times
            ops[f"{info.node_type} ({info.exec_type})"] += info.real_time.total_seconds() * 1e3
    wall = (time.perf_counter() - start) / calls
    return {"wall_ms": 1e3 * wall, "ops_ms": _per_call(ops, calls)}


def run(calls: int) -> dict:
    threads = peers.default_threads()
    results: dict = {"calls": calls, "threads": threads, "profiles": {}}
    with tempfile.TemporaryDirectory() as root:
        paths = {m: served.export(root, m) for m in served.EXPORTS}
        onnx = peers.export_onnx(os.path.join(root, "resnet50_v1.5.onnx"))
        for batch in (1, 32):
            n = calls if batch == 1 else max(5, calls // 4)
            out = results["profiles"]
            for mode, path in paths.items():
                out[f"savedmodel {mode} b{batch}"] = savedmodel(path, batch, n)
                out[f"savedmodel {mode} b{batch}, oneDNN"] = onednn(path, batch, n)
            if onnx:  # None without torch or onnx; each peer None without its package
                out[f"onnxruntime float32 b{batch}"] = onnxruntime(onnx, batch, n, threads)
                out[f"openvino bf16 b{batch}"] = openvino(onnx, batch, n, threads, "bf16")
    return results


def markdown(results: dict, top: int = 6) -> str:
    lines = [
        "# Op-level profiles: ResNet-50 v1.5 inference, per call",
        "",
        f"{results['calls']} profiled calls at batch 1 (fewer at 32), {results['threads']} "
        "threads; ms per call. `python -m keras_resnet.bench.profile`.",
        "",
        "| runtime | wall | busy (sum of ops) | top op types |",
        "|---|---:|---:|---|",
    ]
    for name, prof in results["profiles"].items():
        if not prof:
            lines.append(f"| {name} | not run | | |")
            continue
        ops = prof["ops_ms"]
        tops = ", ".join(f"{k} {v:.1f}" for k, v in list(ops.items())[:top])
        wall = f"{prof['wall_ms']:.1f}" if "wall_ms" in prof else "(not timed)"
        lines.append(f"| {name} | {wall} | {sum(ops.values()):.1f} | {tops} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="profiled calls at batch 1")
    parser.add_argument("--out", default="bench", help="folder for profile-<host>.{md,json}")
    args = parser.parse_args(argv)
    results = run(args.calls)
    base = os.path.join(args.out, f"profile-{socket.gethostname().split('.')[0]}")
    with open(f"{base}.json", "w") as f:
        json.dump(results, f, indent=1)
    with open(f"{base}.md", "w") as f:
        f.write(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
