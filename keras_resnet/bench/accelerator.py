"""Throughput on a GPU, on any Keras backend: `python -m keras_resnet.bench.accelerator`.

`make bench` measures the TensorFlow path on the CPU. The GPU machines this project borrows run
a CUDA image with JAX and PyTorch but no TensorFlow build for their CUDA, so this module times
the same model definitions (`create_model`, unchanged) on Keras' JAX backend, beside the
PyTorch peer on the same GPU, and writes the ratios measured in one run. The models are
functional Keras graphs of standard layers, so no line of them is backend-specific; only
`fused_bn` (TensorFlow's fused BN kernel) is not used here.

Cells (batch 256 for ResNet-50 as in Goyal et al.; batch 128 as the paper's CIFAR recipe):
ResNet-50 v1.5 training steps and inference in float32 and mixed bf16, inference latency at
batch 1, and CIFAR ResNet-20/110 training steps. float32 on Hopper runs convolutions in TF32 in
both frameworks by default (cuDNN, XLA), as users get them.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time

import keras
import numpy as np

from keras_resnet.bench.measure import time_fn, torch_resnet50_throughput
from keras_resnet.models.resnet import create_model

logger = logging.getLogger(__name__)

# (name, model, image size, classes, batch, train, Keras dtype policy)
CELLS = (  # most wanted first: a run cut short by its time budget drops the last ones
    ("resnet50 train float32", "resnet50", 224, 1000, 256, True, "float32"),
    ("resnet50 train bf16", "resnet50", 224, 1000, 256, True, "mixed_bfloat16"),
    ("resnet50 infer bf16", "resnet50", 224, 1000, 256, False, "mixed_bfloat16"),
    ("resnet110 train float32", "resnet110", 32, 10, 128, True, "float32"),
    ("resnet50 infer float32", "resnet50", 224, 1000, 256, False, "float32"),
    ("resnet50 infer bf16 b1", "resnet50", 224, 1000, 1, False, "mixed_bfloat16"),
    ("resnet20 train float32", "resnet20", 32, 10, 128, True, "float32"),
    ("resnet50 infer float32 b1", "resnet50", 224, 1000, 1, False, "float32"),
)


def keras_rate(model, size, classes, batch, train, policy, *, min_time=3.0) -> dict:
    """Images/s of one training step (SGD, momentum 0.9) or forward pass, compiled (jit) on
    the backend's default device, with the batch already on the device."""
    keras.utils.clear_session()
    keras.config.set_dtype_policy(policy)
    try:
        variant = "v1.5" if model == "resnet50" else None  # the PyTorch peer's layout
        net = create_model(model, input_shape=(size, size, 3), variant=variant)
        rng = np.random.default_rng(0)
        x = keras.ops.convert_to_tensor(rng.random((batch, size, size, 3), dtype=np.float32))
        y = keras.ops.convert_to_tensor(rng.integers(0, classes, (batch,)).astype("int32"))
        net.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        # Both return host values (a loss, the logits), so each call waits for the device.
        fn = (lambda: net.train_on_batch(x, y)) if train else (lambda: net.predict_on_batch(x))
        start = time.perf_counter()
        fn()  # compiles
        compile_s = time.perf_counter() - start
        timing = time_fn(fn, warmup=3, min_time=min_time, max_iters=200)
        return {"images_per_s": timing.rate(batch), "compile_s": compile_s, "iters": timing.iters}
    finally:
        keras.config.set_dtype_policy("float32")


def environment() -> dict:
    """What ran: backend, versions and the accelerator's name, for the report's header."""
    env = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    if env["backend"] == "jax":
        import jax

        env["jax"] = jax.__version__
        env["devices"] = [d.device_kind for d in jax.devices()]
    try:
        import torch

        env["torch"] = torch.__version__
        if torch.cuda.is_available():
            env["torch_device"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return env


def run(out_dir: str, *, budget_s: float, torch_device: str = "cuda", only: str = "") -> dict:
    """Times every cell (Keras, then PyTorch where it has the same cell) until `budget_s`
    runs out, writing `accelerator.json` after each so a cut-short run keeps what it got.
    `only`: run just the cells whose name contains it (a dry run on a CPU: "resnet20")."""
    results = {"environment": environment(), "cells": {}}
    deadline = time.monotonic() + budget_s
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "accelerator.json")
    for name, model, size, classes, batch, train, policy in CELLS:
        if only not in name:
            continue
        if time.monotonic() > deadline:
            logger.info("%s: skipped, the time budget is spent", name)
            continue
        cell = {"batch": batch, "keras": keras_rate(model, size, classes, batch, train, policy)}
        if model == "resnet50":  # the PyTorch peer exists for ResNet-50 only
            cell["torch"] = torch_resnet50_throughput(
                batch=batch,
                train=train,
                bf16=policy != "float32",
                min_time=3.0,
                warmup=3,
                device=torch_device,
                max_iters=200,
            )
        results["cells"][name] = cell
        logger.info("%s: %s", name, json.dumps(cell))
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
    return results


def merge(paths: list[str]) -> dict:
    """One result from several calls (a cut-short run, then the cells it skipped): each cell's
    first measurement is kept, a later one of the same cell is recorded as its `repeat`."""
    merged = {"environment": None, "cells": {}}
    for path in paths:
        with open(path) as f:
            part = json.load(f)
        merged["environment"] = merged["environment"] or part["environment"]
        for name, cell in part["cells"].items():
            if name in merged["cells"]:
                merged["cells"][name].setdefault("repeat", cell)
            else:
                merged["cells"][name] = cell
    return merged


def markdown(results: dict) -> str:
    """The table: Keras images/s, PyTorch's, their ratio, and XLA's compile time per cell."""
    env = results["environment"]
    lines = [
        f"# GPU throughput: {', '.join(env.get('devices', [])) or 'no GPU'}",
        "",
        f"- Keras {env['keras']} on the {env['backend']} backend"
        + (f" (JAX {env['jax']})" if "jax" in env else "")
        + f", PyTorch {env.get('torch', 'absent')}, Python {env['python']}, "
        f"{env['cpu_count']} CPU cores.",
        "- Same model definitions as the TensorFlow path (`create_model`), ResNet-50 in the v1.5 "
        "layout of the PyTorch peer (torchvision's resnet50, eager, channels_last, cuDNN "
        "benchmark mode, bf16 by autocast); Keras steps compiled by XLA (`jit_compile=True`).",
        "- Ratios are of numbers measured in the same run; each is the median of repeated calls "
        "after a warm-up. Batch-1 figures include each framework's per-call overhead "
        "(Keras' `predict_on_batch` returns a NumPy array).",
        "",
        "| cell | batch | Keras img/s | PyTorch img/s | Keras / PyTorch | XLA compile s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, cell in results["cells"].items():
        ours, peer = cell["keras"]["images_per_s"], cell.get("torch")
        ratio = f"{ours / peer:.2f}x" if peer else "—"
        lines.append(
            f"| {name} | {cell['batch']} | {ours:,.0f} | {f'{peer:,.0f}' if peer else '—'} | "
            f"{ratio} | {cell['keras']['compile_s']:.1f} |"
        )
    repeats = [(n, c["repeat"]) for n, c in results["cells"].items() if "repeat" in c]
    if repeats:
        lines += ["", "Repeated in a second call (run-to-run spread):", ""]
        for name, rep in repeats:
            first = results["cells"][name]
            lines.append(
                f"- {name}: Keras {rep['keras']['images_per_s']:,.0f} "
                f"(first {first['keras']['images_per_s']:,.0f}), PyTorch "
                f"{rep['torch']:,.0f} (first {first['torch']:,.0f})"
                if rep.get("torch")
                else f"- {name}: Keras {rep['keras']['images_per_s']:,.0f}"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", required=True, help="folder for accelerator.json (with --merge: results.json, .md)"
    )
    parser.add_argument("--budget_s", type=float, default=240.0, help="stop starting cells after")
    parser.add_argument("--torch_device", default="cuda", help="cuda, or cpu for a dry run")
    parser.add_argument("--only", default="", help="only the cells whose name contains this")
    parser.add_argument(
        "--merge", nargs="*", default=[], help="accelerator.json files to merge into --out/"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.merge:  # results.json and results.md from earlier runs' files; nothing is timed
        results = merge(args.merge)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(markdown(results))
        return 0
    run(args.out, budget_s=args.budget_s, torch_device=args.torch_device, only=args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
