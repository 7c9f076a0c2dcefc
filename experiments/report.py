"""Writes an experiment table's report: `experiments/results/<table>.md` with our numbers beside
the paper's, plus Figure 1/4/6-style error curves and the Figure 7 layer-response plot.

Everything here reads finished workdirs (config.json, metrics.csv, results.json, model.keras);
nothing is trained. Numbers in the "measured here" columns come from those files only.
"""

from __future__ import annotations

import csv
import json
import os
import platform


def read_run(workdir: str) -> dict | None:
    """results.json plus the metrics.csv rows of a finished run, or None if unfinished."""
    path = os.path.join(workdir, "results.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        run = json.load(f)
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        run["rows"] = list(csv.DictReader(f))
    run["train_error"] = float(run["rows"][-1]["top1_error"]) if run["rows"] else None
    return run


def hardware() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"{cpu}, {os.cpu_count()} cores" + (
        f", GPU: {', '.join(names)}" if names else ", no GPU"
    )


def _verdicts(runs: dict) -> list[str]:
    """Plain-vs-residual depth comparisons (the paper's degradation claim), where both exist."""
    out = []
    depths = sorted({int(n[5:]) for n in runs if n.startswith("plain") and n[5:].isdigit()})
    for shallow, deep in zip(depths, depths[1:]):
        p_s, p_d = runs.get(f"plain{shallow}"), runs.get(f"plain{deep}")
        r_s, r_d = runs.get(f"resnet{shallow}"), runs.get(f"resnet{deep}")
        if not (p_s and p_d):
            continue
        line = (
            f"- plain-{deep} ends with {'higher' if p_d['train_error'] > p_s['train_error'] else 'lower'}"
            f" training error than plain-{shallow} ({p_d['train_error']:.2f}% vs "
            f"{p_s['train_error']:.2f}%)"
        )
        if r_s and r_d:
            line += (
                f"; ResNet-{deep} {r_d['train_error']:.2f}% vs ResNet-{shallow} "
                f"{r_s['train_error']:.2f}%"
            )
        if p_d["train_error"] <= p_s["train_error"]:
            line += ". This run does not show the degradation problem."
        elif not (r_s and r_d):
            line += ": the degradation problem is shown (no ResNets of these depths to compare)."
        elif r_d["train_error"] <= r_s["train_error"] + 0.5:
            line += ". Degradation shown, and residual learning avoids it."
        else:
            line += (
                f". Degradation shown for plain nets, but ResNet-{deep} did not reach "
                f"ResNet-{shallow}'s training error within this budget: the cure is not shown."
            )
        out.append(line)
    return out


def markdown(module, runs: dict, command: str, wall_s: float) -> str:
    paper_top5 = getattr(module, "PAPER_TOP5", {})
    lines = [
        f"# {module.TITLE}",
        "",
        f"- Command: `{command}`",
        f"- Hardware: {hardware()}",
        f"- Wall time of the runs reported: {wall_s / 60:.1f} min (sum of their training times)",
        "- Columns marked *measured here* come from this repository's runs on that hardware; "
        "columns marked *paper* are copied from He et al. 2015 (see ../shared/reference/paper.md).",
        "",
        "| model | test top-1 error (measured here) | top-5 (measured here) | final training error "
        "(measured here) | paper top-1 error | paper top-5 | steps | images/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in module.MODELS:
        run = runs.get(name)
        paper = module.PAPER.get(name)
        p5 = paper_top5.get(name)
        paper_cells = f"{paper if paper is not None else '—'} | {p5 if p5 is not None else '—'}"
        if run is None:
            lines.append(f"| {name} | not run | | | {paper_cells} | | |")
            continue
        lines.append(
            f"| {name} | {run['top1_error']:.2f} | {run['top5_error']:.2f} | "
            f"{run['train_error']:.2f} | {paper_cells} | {run['steps']} | "
            f"{run['images_per_sec']:.0f} |"
        )
    verdicts = _verdicts(runs)
    if verdicts:
        lines += ["", "## Depth: plain vs residual (measured here)", "", *verdicts]
    return "\n".join(lines) + "\n"


def plot_curves(runs: dict, path: str, title: str) -> None:
    """Figures 1/4/6 style: training error (dashed) and test error (solid) against iterations,
    plain nets on the left, ResNets on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, ("plain", "resnet")):
        for name, run in runs.items():
            if not name.startswith(kind):
                continue
            steps = [int(r["step"]) for r in run["rows"]]
            (line,) = ax.plot(steps, [float(r["top1_error"]) for r in run["rows"]], "--", lw=1)
            test = [float(r["val_top1_error"]) for r in run["rows"] if r["val_top1_error"]]
            ax.plot(steps[: len(test)], test, "-", color=line.get_color(), lw=2, label=name)
        ax.set(title=f"{kind} nets", xlabel="iterations", ylabel="error (%)")
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(f"{title} — dashed: training error, bold: test error")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
