"""`make bench` / `keras-resnet-bench [--quick] [--max_batch]`: throughput against the machine's
measured matmul peak and against peers (keras.applications, PyTorch; for the exported model,
ONNX Runtime and OpenVINO), all in one run, and each workload's peak memory in its own process.

Every figure in the report is measured by this process on this machine, and every comparison
is a ratio of two numbers from the same run: these machines are shared and noisy, so absolute
numbers from different runs are not comparable.

Writes a Markdown table to stdout and to `bench/results-<host>.md`, and the raw numbers to
`bench/results-<host>.json`. Progress is logged (`logger`), on stderr in the command line.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

# (model, image size, batch) as the benchmark issue asks: ImageNet ResNet-50 and CIFAR ResNet-20.
WORKLOADS = {"resnet50": (224, 32), "resnet20": (32, 256)}


def _settings(quick: bool) -> dict:
    if quick:  # under 4 minutes on 2 cores: fewer modes, fewer iterations
        return {
            "min_time": 0.5,
            "warmup": 1,
            "max_iters": 3,
            "infer_modes": ["float32", "bf16"],
            "train_modes": ["float32"],
            # PyTorch's bf16 training only: its float32 step alone takes ~1 min. Both inference
            # modes: with a frozen graph they take seconds, and float32 is the headline ratio.
            "torch_bf16": {"infer": [False, True], "train": [True]},
            "served_batches": [32, 1],  # every served-model target: they are the point
            "served_in_process": False,
            "memory": False,  # a fresh process per workload: ~3 minutes
        }
    return {
        "min_time": 5.0,
        "warmup": 2,
        "max_iters": 30,
        "infer_modes": ["float32", "bf16", "xla", "xla_bf16"],
        "train_modes": ["float32", "bf16", "xla", "xla_bf16"],
        "torch_bf16": {"infer": [False, True], "train": [False, True]},
        "served_batches": [32, 1],
        "served_in_process": True,
        "memory": True,
    }


def _memory(s: dict, max_batch: bool) -> dict:
    """Per-workload peaks, each in a fresh child process. Run first, while this process holds
    little memory: a child may then use the machine's memory as it would alone."""
    from keras_resnet.bench import memory

    if not (s["memory"] or max_batch):
        return {}
    out = {"workloads": memory.measure()}
    if max_batch:
        out["largest_batch"] = {
            impl: memory.largest_batch(impl, out["workloads"]) for impl in memory.IMPLS
        }
    return out


def run(quick: bool, max_batch: bool = False) -> dict:
    import keras

    import keras_resnet
    from keras_resnet import machine
    from keras_resnet.bench import (
        ceiling,
        input_pipeline,
        measure,
        peers,
        served,
        summary,
        torch_peer,
    )
    from keras_resnet.bench import timing as bl

    s = _settings(quick)
    timing = {k: s[k] for k in ("min_time", "warmup", "max_iters")}
    machine.log_devices()  # as training logs them: where the numbers below come from
    what = "--quick" if quick else "full run"
    logger.info(f"benchmark: {what}{', with --max_batch' if max_batch else ''}")
    results: dict = {"machine": machine.summary(), "quick": quick, "peak_gflops": {}, "rows": []}
    results["peers"] = peers.available()
    results["peer_config"] = {"pytorch": torch_peer.describe(quick), **peers.configuration()}
    results["memory"] = _memory(s, max_batch)
    for dtype in ("float32", "bfloat16"):
        results["peak_gflops"][dtype] = bl.matmul_peak_gflops(dtype, min_time=s["min_time"] * 2)
        logger.info(f"matmul peak {dtype}: {results['peak_gflops'][dtype]:.0f} GFLOP/s")

    def record(impl, model, task, mode, images_per_s, macs, batch, config=None):
        # A training step is counted as 3x the forward FLOPs (forward + two backward GEMMs).
        gflops = images_per_s * macs * 2 * (3 if task == "train" else 1) / 1e9
        peak = results["peak_gflops"]["bfloat16" if "bf16" in mode else "float32"]
        row = {
            "impl": impl,
            "model": model,
            "task": task,
            "mode": mode,
            "batch": batch,
            "images_per_s": round(images_per_s, 2),
            "gflops": round(gflops, 1),
            "pct_of_peak": round(100 * gflops / peak, 1),  # may exceed 100: bench.ceiling
        }
        if config:  # which of a peer's configurations (keras_resnet.bench.torch_peer.GRAPHS)
            row["config"] = config
        results["rows"].append(row)
        logger.info(
            f"{impl:>23} {model:>13} {task:>5} {mode:>8} b{batch:<3}: {images_per_s:8.1f} img/s "
            f"({gflops:.0f} GFLOP/s, {row['pct_of_peak']:.0f}% of the matmul rate)"
            + (f" [{config}]" if config else "")
        )

    # As `make train` runs it: BN on TF's fused kernel (keras_resnet.models.fused_bn).
    def fused(name):
        return keras_resnet.use_fused_batchnorm(keras_resnet.create_model(name))

    # keras_resnet as it trains, then (ResNet-50 only) with Keras' own BN: the fused kernel's gain.
    cells = [("keras_resnet", name, fused, m) for name in WORKLOADS for m in ("infer", "train")]
    if not quick:
        cells += [("keras_resnet_standard_bn", "resnet50", keras_resnet.create_model, m)
                  for m in ("infer", "train")]  # fmt: skip
    macs = {name: keras_resnet.count_flops(keras_resnet.create_model(name)) for name in WORKLOADS}
    for impl, name, build, task in cells:
        size, batch = WORKLOADS[name]
        modes = s[f"{task}_modes"] if impl == "keras_resnet" else ["float32", "bf16"]
        for mode in modes:
            rate = bl.keras_throughput(
                lambda n=name, b=build: b(n),
                bl.MODES[mode],
                batch=batch,
                image_size=size,
                num_classes=keras_resnet.get_spec(name).default_num_classes,
                train=task == "train",
                **timing,
            )
            record(impl, name, task, mode, rate, macs[name], batch)

    # Peers on the same workload: ResNet-50, 224x224, batch 32.
    macs50 = keras_resnet.count_flops(keras_resnet.create_model("resnet50", variant="v1.5"))
    for task in ("infer", "train"):
        rate = bl.keras_throughput(
            # Logits out, as ours: the training loss below takes logits (from_logits=True).
            lambda: keras.applications.ResNet50(weights=None, classifier_activation=None),
            bl.MODES["float32"],
            batch=32,
            image_size=224,
            num_classes=1000,
            train=task == "train",
            **timing,
        )
        record("keras.applications", "resnet50", task, "float32", rate, macs50, 32)
        # Each of PyTorch's inference graphs is a row; the ratios take its fastest.
        graphs = torch_peer.inference_graphs(quick) if task == "infer" else ["eager"]
        for bf16, graph in [(b, g) for b in s["torch_bf16"][task] for g in graphs]:
            rate = measure.torch_resnet50_throughput(
                batch=32,
                train=task == "train",
                bf16=bf16,
                min_time=s["min_time"],
                warmup=s["warmup"],
                threads=os.cpu_count() or 1,
                graph=graph,
            )
            if rate is None:
                logger.info("torch not installed: PyTorch peer skipped")
                break
            mode = "bf16" if bf16 else "float32"
            record("pytorch", "resnet50", task, mode, rate, macs50, 32, config=graph)

    # The exported model as TF Serving runs it, beside ONNX Runtime and OpenVINO (same net).
    served.measure(record, s)

    step = {
        r["model"]: r["images_per_s"]
        for r in results["rows"]
        if r["impl"] == "keras_resnet" and r["task"] == "train" and r["mode"] == "float32"
    }
    results["pipeline"] = input_pipeline.measure(
        quick=quick,
        step_rates={"cifar10": step.get("resnet20"), "imagenet_jpeg": step.get("resnet50")},
    )
    ceiling.annotate(results["rows"])  # "% of best": the honest ceiling beside the matmul rate
    results["ratios"] = summary.ratios(results)
    return results
