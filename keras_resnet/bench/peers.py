"""The CPU inference runtimes someone serving a ResNet would pick instead of TF Serving: ONNX
Runtime (CPU execution provider) and OpenVINO, on the same network as our exported model.

The network is ResNet-50 in torchvision's v1.5 layout, built by the PyTorch reference
(`keras_resnet.models.torch_reference`) and exported through ONNX, which is how users get a
torchvision model into either runtime. Each runtime gets this machine's cores and its own
graph optimisations at their highest level; OpenVINO compiles for a static batch, as its
`benchmark_app` does. Every function returns None when its package is not installed.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from keras_resnet.bench.measure import time_fn

IMAGE = (3, 224, 224)  # NCHW, as the PyTorch net and its ONNX export take it
OPENVINO_HINTS = {"float32": "f32", "bf16": "bf16"}


def export_onnx(path: str, seed: int = 0) -> str | None:
    """Writes the reference ResNet-50 (random weights and BN statistics, eval mode) as ONNX
    with a dynamic batch; returns `path`, or None without torch or onnx."""
    try:
        import onnx  # noqa: F401  (the exporter writes through it; fail here, not mid-export)
        import torch

        from keras_resnet.models.torch_reference import randomized
    except ImportError:
        return None
    net = randomized("resnet50", seed=seed)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo=True, which needs the
        # onnxscript package on top; its output for a plain ResNet is the same graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, *IMAGE),),
            path,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def images(batch: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-2, 2, (batch, *IMAGE)).astype(np.float32)


def onnxruntime_session(path: str, *, threads: int, profile: bool = False):
    """ONNX Runtime's CPU execution provider on the ONNX file, all graph optimisations on;
    `profile` records each node's time (`keras_resnet.bench.profile`). None without the package."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = profile
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnxruntime_throughput(path: str, *, batch: int, threads: int, **timing) -> float | None:
    """Images/s of ONNX Runtime's CPU execution provider on the ONNX file, float32."""
    session = onnxruntime_session(path, threads=threads)
    if session is None:
        return None
    x = {"images": images(batch)}
    # The session (and its spinning thread pool, which must not steal cores from the next
    # cell) is freed when this returns: nothing else holds it.
    return time_fn(lambda: session.run(None, x), **timing).rate(batch)


def openvino_request(path: str, *, batch: int, mode: str, threads: int, profile: bool = False):
    """An infer request of OpenVINO's CPU plugin, compiled for `batch` with inference precision
    hint `mode` ("float32" or "bf16"; OpenVINO runs bf16 only where the CPU has AVX512-BF16 or
    AMX, else float32); `profile` keeps per-layer times. None without the package."""
    if mode not in OPENVINO_HINTS:
        raise ValueError(f"mode must be one of {sorted(OPENVINO_HINTS)}, got {mode!r}.")
    ov = import_openvino()
    if ov is None:
        return None
    core = ov.Core()
    model = core.read_model(path)
    model.reshape({"images": [batch, *IMAGE]})
    compiled = core.compile_model(
        model,
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": OPENVINO_HINTS[mode],
            "PERFORMANCE_HINT": "LATENCY",  # one request at a time, all cores on it
            "INFERENCE_NUM_THREADS": threads,
            "PERF_COUNT": profile,
        },
    )
    return compiled.create_infer_request()


def openvino_throughput(
    path: str, *, batch: int, mode: str, threads: int, **timing
) -> float | None:
    """Images/s of OpenVINO's CPU plugin (`openvino_request`)."""
    request = openvino_request(path, batch=batch, mode=mode, threads=threads)
    if request is None:
        return None
    x = images(batch)
    return time_fn(lambda: request.infer({"images": x}), **timing).rate(batch)


def import_openvino():
    """openvino, or None when it is not installed. Its import removes the root logger's
    handlers (seen with openvino 2026.4), which silenced every progress line of the benchmark
    after it: they are put back."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        import openvino
    except ImportError:
        return None
    finally:
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
    return openvino


def available() -> dict:
    """{package: version or None} for the report."""
    out = {}
    for name in ("onnxruntime", "openvino", "onnx"):
        try:
            module = import_openvino() if name == "openvino" else __import__(name)
        except ImportError:
            module = None
        out[name] = None if module is None else getattr(module, "__version__", "?")
    return out


def configuration() -> dict:
    """Each runtime's settings in this benchmark, one line each, for the results JSON and the
    report's header (the PyTorch peer's are `keras_resnet.bench.torch_peer.describe`)."""
    return {
        "onnxruntime": "CPU execution provider, ORT_ENABLE_ALL graph optimisations, "
        "intra_op_num_threads = cores, float32. No bf16 run: its bf16 fast-math GEMM is for "
        "arm64 only, and the x86 CPU provider has no bf16 convolutions. No int8 run: that needs "
        "a quantised, calibrated model, a different network by accuracy",
        "openvino": "CPU plugin, PERFORMANCE_HINT=LATENCY, INFERENCE_NUM_THREADS = cores, "
        "static batch (as benchmark_app), INFERENCE_PRECISION_HINT f32 and bf16",
    }


def default_threads() -> int:
    return os.cpu_count() or 1
