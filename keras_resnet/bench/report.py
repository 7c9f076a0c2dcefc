"""Turns `benchmark.run()` results into the ratios the targets are stated in, and a Markdown
report. Pure functions over the results dict: no measuring here."""

from __future__ import annotations


def _rate(results, impl, model, task, mode=None):
    rows = [
        r
        for r in results["rows"]
        if r["impl"] == impl and r["model"] == model and r["task"] == task
        and (mode is None or r["mode"] == mode)
    ]  # fmt: skip
    return max(rows, key=lambda r: r["images_per_s"]) if rows else None


def ratios(results: dict) -> dict:
    """The benchmark targets, each as a measured ratio (None where a side was not measured)."""
    out = {}
    for task in ("infer", "train"):
        ours_f32 = _rate(results, "keras_resnet", "resnet50", task, "float32")
        ours_best = _rate(results, "keras_resnet", "resnet50", task)
        apps = _rate(results, "keras.applications", "resnet50", task, "float32")
        torch_best = _rate(results, "pytorch", "resnet50", task)
        if ours_f32 and apps:
            out[f"resnet50_{task}_vs_keras_applications_float32"] = round(
                ours_f32["images_per_s"] / apps["images_per_s"], 2
            )
        if ours_best and torch_best:
            out[f"resnet50_{task}_best_vs_pytorch_best"] = round(
                ours_best["images_per_s"] / torch_best["images_per_s"], 2
            )
            out[f"resnet50_{task}_modes_compared"] = f"{ours_best['mode']} vs {torch_best['mode']}"
    f32 = _rate(results, "keras_resnet", "resnet50", "infer", "float32")
    if f32:
        out["resnet50_infer_float32_pct_of_peak"] = f32["pct_of_peak"]
        fast = [
            r for r in results["rows"]
            if r["impl"] == "keras_resnet" and r["model"] == "resnet50" and r["task"] == "infer"
            and r["mode"] != "float32"
        ]  # fmt: skip
        if fast:
            best = max(fast, key=lambda r: r["images_per_s"])
            out["resnet50_infer_fastest_mode_vs_float32"] = round(
                best["images_per_s"] / f32["images_per_s"], 2
            )
            out["resnet50_infer_fastest_mode"] = best["mode"]
    for task in ("infer", "train"):  # what TF's fused BN kernel buys (keras_resnet.fused_bn)
        for mode in ("float32", "bf16"):
            fused = _rate(results, "keras_resnet", "resnet50", task, mode)
            plain = _rate(results, "keras_resnet_standard_bn", "resnet50", task, mode)
            if fused and plain:
                out[f"resnet50_{task}_{mode}_fused_bn_vs_standard_bn"] = round(
                    fused["images_per_s"] / plain["images_per_s"], 2
                )
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
    ("pipeline_cifar10_vs_train_step", ">= 1.5"),
    ("pipeline_imagenet_jpeg_vs_train_step", ">= 1.5"),
]


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, GPUs: {', '.join(m['gpus']) or 'none'}; "
        f"TensorFlow {m['tensorflow']}; {m['date']}"
        f"{' (--quick)' if results['quick'] else ''}.",
        "",
        "Matmul peak (4096², measured): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in results["peak_gflops"].items()),
        "",
        "| implementation | model | task | mode | images/s | GFLOP/s | % of peak |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['impl']} | {r['model']} | {r['task']} | {r['mode']} | "
            f"{r['images_per_s']:.1f} | {r['gflops']:.0f} | {r['pct_of_peak']:.0f}% |"
        )
    pipeline = results.get("pipeline") or {}
    if pipeline:
        lines += ["", "| input pipeline | images/s | training step images/s |", "|---|---:|---:|"]
        for name, p in pipeline.items():
            lines.append(
                f"| {name} ({p['what']}) | {p['images_per_s']:.0f} | "
                f"{p.get('step_images_per_s') or 0:.1f} |"
            )
    rss = results.get("peak_rss_mib_resnet50_train_b32")
    if rss:
        lines += ["", f"Peak RSS of a ResNet-50 training process at batch 32: {rss:.0f} MiB."]
    lines += ["", "| target | required | measured |", "|---|---|---|"]
    r = results.get("ratios", {})
    for key, want in TARGETS:
        got = r.get(key)
        extra = ""
        if key.endswith("pytorch_best") and r.get(
            key.replace("best_vs_pytorch_best", "modes_compared")
        ):
            extra = f" ({r[key.replace('best_vs_pytorch_best', 'modes_compared')]})"
        if key == "resnet50_infer_fastest_mode_vs_float32" and got is not None:
            extra = f" ({r['resnet50_infer_fastest_mode']})"
        lines.append(f"| {key} | {want} | {'not measured' if got is None else got}{extra} |")
    fused = {k: v for k, v in r.items() if k.endswith("fused_bn_vs_standard_bn")}
    if fused:
        lines += ["", "| fused BN vs Keras' standard BN (same run) | ratio |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in fused.items()]
    return "\n".join(lines)
