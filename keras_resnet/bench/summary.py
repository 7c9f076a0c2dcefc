"""Turns `benchmark.run()` results into the ratios the targets are stated in, and a Markdown
report. Pure functions over the results dict: no measuring here.

Every ratio compares two rows of the same run. A "best mode" is the fastest of at least float32
and bf16, both measured (BEST_OF): where a side ran fewer modes (`--quick`), a best-vs-best
target is skipped with the reason, never computed from whatever modes happened to run.
"""

from __future__ import annotations

from keras_resnet.bench import ceiling

BEST_OF = ("float32", "bf16")
SERVED = "resnet50_v1.5"  # the exported model and its peers (keras_resnet.bench.served)
SERVED_BATCHES = (32, 1)
# The exports with their weights as graph constants (keras_resnet.bench.served.EXPORTS).
CONSTANTS = ("float32_constants", "bf16_constants")


def _rows(results, impl, model, task, mode=None, batch=None):
    return [
        r
        for r in results["rows"]
        if r["impl"] == impl and r["model"] == model and r["task"] == task
        and (mode is None or r["mode"] == mode) and (batch is None or r.get("batch") == batch)
    ]  # fmt: skip


def _rate(results, impl, model, task, mode=None, batch=None):
    rows = _rows(results, impl, model, task, mode, batch)
    return max(rows, key=lambda r: r["images_per_s"]) if rows else None


def _best(results, impl, model, task, batch=None):
    """The fastest row, or None unless every mode in BEST_OF was measured."""
    rows = _rows(results, impl, model, task, batch=batch)
    if not set(BEST_OF) <= {r["mode"] for r in rows}:
        return None
    return max(rows, key=lambda r: r["images_per_s"])


def _missing(results, impl, model, task, modes, batch=None) -> list[str]:
    have = {r["mode"] for r in _rows(results, impl, model, task, batch=batch)}
    return [f"{impl} {task} {m}" for m in modes if m not in have]


def _ratio(out, key, a, b, why=()):
    """out[key] = a / b (images/s), or out["skipped"][key] = why when a side was not run."""
    if a and b:
        out[key] = round(a["images_per_s"] / b["images_per_s"], 2)
    else:
        out.setdefault("skipped", {})[key] = "not run: " + (", ".join(why) or "a side")


def _served_ratios(results, out):
    for b in SERVED_BATCHES:
        ours = {
            m: _rate(results, "keras_resnet_savedmodel", SERVED, "infer", m, b)
            for m in (*BEST_OF, *CONSTANTS)
        }
        ort = _rate(results, "onnxruntime", SERVED, "infer", "float32", b)
        ov = _best(results, "openvino", SERVED, "infer", b)
        prefix = f"{SERVED}_b{b}_savedmodel"
        for mode in (*BEST_OF, *CONSTANTS):
            why = _missing(results, "keras_resnet_savedmodel", SERVED, "infer", [mode], b)
            why += _missing(results, "onnxruntime", SERVED, "infer", ["float32"], b)
            _ratio(out, f"{prefix}_{mode}_vs_onnxruntime_float32", ours[mode], ort, why)
            in_process = _rate(results, "keras_resnet", SERVED, "infer", mode, b)
            if ours[mode] and in_process:  # what folding and the serving graph change
                _ratio(out, f"{prefix}_{mode}_vs_in_process_{mode}", ours[mode], in_process)
        for mode in ("bf16", "bf16_constants"):
            why = _missing(results, "keras_resnet_savedmodel", SERVED, "infer", [mode], b)
            why += _missing(results, "openvino", SERVED, "infer", BEST_OF, b)
            _ratio(out, f"{prefix}_{mode}_vs_openvino_best", ours[mode], ov, why)
            if ov:
                out[f"{prefix}_{mode}_vs_openvino_best_modes"] = f"{mode} vs openvino {ov['mode']}"


def ratios(results: dict) -> dict:
    """The benchmark targets, each as a measured ratio; out["skipped"] says why one is absent."""
    out: dict = {}
    for task in ("infer", "train"):
        ours_f32 = _rate(results, "keras_resnet", "resnet50", task, "float32")
        apps = _rate(results, "keras.applications", "resnet50", task, "float32")
        why = _missing(results, "keras_resnet", "resnet50", task, ["float32"])
        why += _missing(results, "keras.applications", "resnet50", task, ["float32"])
        _ratio(out, f"resnet50_{task}_vs_keras_applications_float32", ours_f32, apps, why)
        ours_best = _best(results, "keras_resnet", "resnet50", task)
        torch_best = _best(results, "pytorch", "resnet50", task)
        why = _missing(results, "keras_resnet", "resnet50", task, BEST_OF)
        why += _missing(results, "pytorch", "resnet50", task, BEST_OF)
        _ratio(out, f"resnet50_{task}_best_vs_pytorch_best", ours_best, torch_best, why)
        if ours_best and torch_best:
            config = f" (pytorch {torch_best['config']})" if torch_best.get("config") else ""
            compared = f"{ours_best['mode']} vs {torch_best['mode']}{config}"
            out[f"resnet50_{task}_modes_compared"] = compared
        for mode in BEST_OF:  # like with like, whatever else ran
            ours = _rate(results, "keras_resnet", "resnet50", task, mode)
            torch = _rate(results, "pytorch", "resnet50", task, mode)
            if ours and torch:
                _ratio(out, f"resnet50_{task}_{mode}_vs_pytorch_{mode}", ours, torch)
    f32 = _rate(results, "keras_resnet", "resnet50", "infer", "float32")
    if f32:
        # Above 100% the matmul rate is no ceiling (keras_resnet.bench.ceiling): not a fraction.
        if f32["pct_of_peak"] <= 100:
            out["resnet50_infer_float32_pct_of_peak"] = f32["pct_of_peak"]
        else:
            out.setdefault("skipped", {})["resnet50_infer_float32_pct_of_peak"] = (
                f"ran at {f32['pct_of_peak']:.0f}% of the matmul rate: not a ceiling"
            )
        best = ceiling.best_rates(results["rows"])[ceiling.cell_key(f32)]
        out["resnet50_infer_float32_pct_of_best"] = round(
            100 * f32["images_per_s"] / best["images_per_s"], 1
        )
        by = f"{best['impl']} {best['mode']} {best.get('config', '')}"
        out["resnet50_infer_float32_best_by"] = by.strip()
        fast = [r for r in _rows(results, "keras_resnet", "resnet50", "infer")
                if r["mode"] != "float32"]  # fmt: skip
        if fast:
            best = max(fast, key=lambda r: r["images_per_s"])
            _ratio(out, "resnet50_infer_fastest_mode_vs_float32", best, f32)
            out["resnet50_infer_fastest_mode"] = best["mode"]
    for task in ("infer", "train"):  # what TF's fused BN kernel buys (keras_resnet.models.fused_bn)
        for mode in BEST_OF:
            fused = _rate(results, "keras_resnet", "resnet50", task, mode)
            plain = _rate(results, "keras_resnet_standard_bn", "resnet50", task, mode)
            if fused and plain:
                _ratio(out, f"resnet50_{task}_{mode}_fused_bn_vs_standard_bn", fused, plain)
    _served_ratios(results, out)
    for name, p in (results.get("pipeline") or {}).items():
        if isinstance(p, dict) and p.get("step_images_per_s"):
            out[f"pipeline_{name}_vs_train_step"] = round(
                p["images_per_s"] / p["step_images_per_s"], 2
            )
    return out


TARGETS = [
    ("resnet50_infer_vs_keras_applications_float32", ">= 1.0"),
    ("resnet50_train_vs_keras_applications_float32", ">= 1.0"),
    ("resnet50_infer_best_vs_pytorch_best", ">= 1.0"),
    ("resnet50_train_best_vs_pytorch_best", ">= 1.0"),
    ("resnet50_infer_float32_pct_of_peak", ">= 75"),
    ("resnet50_infer_fastest_mode_vs_float32", ">= 1.3"),
    *[
        target
        for b in SERVED_BATCHES
        for weights in ("", "_constants")  # weights as variables (the default), as constants
        for target in (
            (f"{SERVED}_b{b}_savedmodel_float32{weights}_vs_onnxruntime_float32", ">= 1.0"),
            (f"{SERVED}_b{b}_savedmodel_bf16{weights}_vs_onnxruntime_float32", ">= 1.4"),
            (f"{SERVED}_b{b}_savedmodel_bf16{weights}_vs_openvino_best", ">= 1.0"),
        )
    ],
    ("pipeline_cifar10_vs_train_step", ">= 1.5"),
    ("pipeline_imagenet_jpeg_vs_train_step", ">= 1.5"),
]
# What a target's number was measured on, where it is not what its name suggests.
TARGET_NOTES = {
    "pipeline_cifar10_vs_train_step": "TFDS mock data: random images through the real CIFAR-10 "
    "loading code and pipeline, not the CIFAR-10 files",
}


def verdict(got, want: str) -> str:
    """'met' or 'MISSED' for a measured value against '>= x'."""
    return "met" if got >= float(want.split()[-1]) else "MISSED"


def _target_lines(r: dict) -> list[str]:
    lines = ["| target | required | measured | |", "|---|---|---|---|"]
    missed = []
    for key, want in TARGETS:
        got = r.get(key)
        extra = ""
        if (
            key == "resnet50_infer_float32_pct_of_peak"
            and "resnet50_infer_float32_pct_of_best" in r
        ):
            # The honest ceiling beside it, met, missed or skipped (keras_resnet.bench.ceiling).
            extra = (f" ({r['resnet50_infer_float32_pct_of_best']}% of the best float32 rate here, "
                     f"{r['resnet50_infer_float32_best_by']})")  # fmt: skip
        if got is None:
            why = r.get("skipped", {}).get(key, "not measured")
            lines.append(f"| {key} | {want} | skipped ({why}){extra} | |")
            continue
        modes = r.get(key.replace("best_vs_pytorch_best", "modes_compared"))
        if key.endswith("pytorch_best") and modes:
            extra = f" ({modes})"
        if key.endswith("openvino_best") and r.get(f"{key}_modes"):
            extra = f" ({r[f'{key}_modes']})"
        if key == "resnet50_infer_fastest_mode_vs_float32":
            extra = f" ({r['resnet50_infer_fastest_mode']})"
        if key in TARGET_NOTES:
            extra += f" ({TARGET_NOTES[key]})"
        status = verdict(got, want)
        if status == "MISSED":
            missed.append(key)
        lines.append(f"| {key} | {want} | {got}{extra} | {status} |")
    if missed:
        lines += ["", f"Targets missed in this run: {', '.join(missed)}."]
    return lines


def _memory_lines(memory: dict) -> list[str]:
    rows = memory.get("workloads") or []
    if not rows:
        return []
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    lines = [
        "",
        "Peak RSS of each workload in its own process (ResNet-50 v1.5, float32, MiB):",
        "",
        "| workload | " + " | ".join(impls) + " |",
        "|---|" + "---:|" * len(impls),
    ]
    for task, batch in dict.fromkeys((r["task"], r["batch"]) for r in rows):
        cells = []
        for impl in impls:
            (row,) = [x for x in rows if (x["impl"], x["task"], x["batch"]) == (impl, task, batch)]
            cells.append(f"{row['peak_rss_mib']:.0f}" if "peak_rss_mib" in row else row["error"])
        lines.append(f"| {'training' if task == 'train' else 'inference'} batch {batch} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    for impl, found in (memory.get("largest_batch") or {}).items():
        if "error" in found:
            lines.append(f"\nLargest training batch, {impl}: not found ({found['error']}).")
            continue
        fails = found["smallest_failing"]
        # A search that ended before its bounds met says so: its batch is a lower bound only.
        stopped = f"; search stopped: {found['stopped']}" if found.get("stopped") else ""
        lines.append(
            f"\nLargest training batch within this machine's available memory less 1 GiB "
            f"({found['budget_mib'] / 1024:.1f} GiB), {impl}: {found['largest_batch']} "
            f"({'batch ' + str(fails) + ' did not fit' if fails else 'no larger batch tried'}; "
            f"linear estimate {found['linear_estimate']}; {len(found['trials'])} trial runs"
            f"{stopped})."
        )
    return lines


def _peer_config_lines(config: dict) -> list[str]:
    """The report's header: how each peer was set up (bench.torch_peer, bench.peers)."""
    if not config:
        return []
    lines = ["Peers, each as its users tune it:", ""]
    for peer, how in config.items():
        if isinstance(how, dict):
            how = "; ".join(f"{k}: {v}" for k, v in how.items())
        lines.append(f"- {peer}: {how}")
    return [*lines, ""]


def markdown(results: dict) -> str:
    m = results["machine"]
    peers = ", ".join(f"{k} {v}" for k, v in (results.get("peers") or {}).items() if v)
    best = ceiling.best_rates(results["rows"])
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, GPUs: {', '.join(m['gpus']) or 'none'}; "
        f"TensorFlow {m['tensorflow']}{'; ' + peers if peers else ''}; {m['date']}"
        f"{' (--quick)' if results['quick'] else ''}.",
        "",
        "Matmul peak (4096², measured): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in results["peak_gflops"].items()),
        "",
        *_peer_config_lines(results.get("peer_config") or {}),
        "| implementation | model | task | mode | batch | images/s | GFLOP/s | % of matmul peak "
        "| % of best |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        impl = f"{r['impl']} ({r['config']})" if r.get("config") else r["impl"]
        top = best[ceiling.cell_key(r)]["images_per_s"]
        lines.append(
            f"| {impl} | {r['model']} | {r['task']} | {r['mode']} | {r.get('batch', '')} | "
            f"{r['images_per_s']:.1f} | {r['gflops']:.0f} | {ceiling.peak_cell(r['pct_of_peak'])} "
            f"| {100 * r['images_per_s'] / top:.0f}% |"
        )
    lines += ceiling.peak_note(results["rows"])
    pipeline = results.get("pipeline") or {}
    if pipeline:
        lines += ["", "| input pipeline | images/s | training step images/s |", "|---|---:|---:|"]
        for name, p in pipeline.items():
            lines.append(
                f"| {name} ({p['what']}) | {p['images_per_s']:.0f} | "
                f"{p.get('step_images_per_s') or 0:.1f} |"
            )
    lines += _memory_lines(results.get("memory") or {})
    r = results.get("ratios", {})
    lines += [""] + _target_lines(r)
    target_keys = {key for key, _ in TARGETS}
    info = {
        k: v
        for k, v in r.items()
        if isinstance(v, float) and k not in target_keys and "_pct_of_" not in k
    }
    if info:
        lines += ["", "| other ratios (same run) | ratio |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in info.items()]
    return "\n".join(lines)
