"""Training memory of ResNet-50, ours against PyTorch, taken apart (`make bench-memory`):

    python -m keras_resnet.bench.memory_report bench/memory-vm.json

writes that JSON and the Markdown beside it (`.md`), the source of docs/performance.md's
"Training memory". Every row is one workload in a fresh child process (`memory.run_workload`,
3 training steps, float32, SGD with momentum, channels-last on both sides):

- peak RSS at batch 16, 32 and 64 for both, and a least-squares line through them: its slope is
  the memory each image adds (activations kept for the backward pass and their gradients), its
  intercept what does not grow with the batch (framework, weights, gradients, optimizer slots,
  kernels' scratch);
- the peak after importing and building the model, and after the first step (tracing);
- ours with activation recomputation (`config.remat="blocks"`) at batch 32 and 64, and its step
  time against the same batch without it (one process each, back to back: the ratio is as
  noisy as the machine is busy);
- ours at batch 32 with one setting changed (`VARIANTS`).

Peak RSS hardly depends on what else runs on the machine; the step times do (the load
average before and after is recorded).
"""

from __future__ import annotations

import json
import logging
import os
import time

import psutil

from keras_resnet.bench import memory

logger = logging.getLogger(__name__)

BATCHES = (16, 32, 64)
STEPS = 3  # the first traces; the median of the other two is the step time
# Peak RSS varies from run to run at the same settings (the later steps' peaks more than the
# first's): each default workload runs this often, and the fit and ratios use every run.
REPEATS = 2
REMAT_BATCHES = (32, 64)
# (label, workload options, environment) for ours at batch 32, each one change from the default:
# allocator slack (large blocks always from mmap, so freed memory leaves the process at once),
# the executor's scheduling (one inter-op thread), oneDNN's kernels off, Keras' own BN.
VARIANTS = [
    ("MALLOC_MMAP_THRESHOLD_=1MiB", {}, {"MALLOC_MMAP_THRESHOLD_": str(2**20)}),
    ("TF_NUM_INTEROP_THREADS=1", {}, {"TF_NUM_INTEROP_THREADS": "1"}),
    ("TF_ENABLE_ONEDNN_OPTS=0", {}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    ("fused_batchnorm=False", {"bn": "standard"}, {}),
]


def line_fit(points: list[tuple[int, float]]) -> dict:
    """Least-squares intercept (MiB) and slope (MiB per image) through (batch, peak MiB)."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    worst = max(abs(y - (my + slope * (x - mx))) for x, y in zip(xs, ys)) if n > 2 else 0.0
    return {
        "fixed_mib": round(my - slope * mx, 1),
        "per_image_mib": round(slope, 2),
        "max_residual_mib": round(worst, 1),
    }


def _run(rows: list, impl: str, batch: int, label: str, options=None, env=None) -> dict:
    result = memory.run_workload(
        impl, "train", batch, steps=STEPS, options=options, env=env, timeout_s=900
    )
    row = {"impl": impl, "batch": batch, "setting": label, **result}
    logger.info(f"{row}")
    rows.append(row)
    return row


def collect() -> dict:
    started, rows = time.time(), []
    load_before = os.getloadavg()
    for _ in range(REPEATS):
        for batch in BATCHES:
            _run(rows, "pytorch", batch, "default")
    for repeat in range(REPEATS):
        for batch in BATCHES:  # remat right after the default at the same batch: time ratio
            _run(rows, "keras_resnet", batch, "default")
            if batch in REMAT_BATCHES and repeat == 0:
                _run(rows, "keras_resnet", batch, "remat=blocks", {"remat": "blocks"})
    for label, options, env in VARIANTS:
        _run(rows, "keras_resnet", 32, label, options, env)

    def runs(impl, batch, setting="default", key="peak_rss_mib"):
        return [r[key] for r in rows if (r["impl"], r["batch"], r["setting"]) == (impl, batch,
                setting) and r.get(key) is not None]  # fmt: skip

    def mean(values):
        return sum(values) / len(values) if values else None

    def peak(impl, batch, setting="default"):
        return mean(runs(impl, batch, setting))

    def step_s(batch, setting):  # the first default run: the one right before remat's
        found = runs("keras_resnet", batch, setting, "step_s")
        return found[0] if found else None

    fits = {}
    for impl in memory.IMPLS:
        points = [(b, p) for b in BATCHES for p in runs(impl, b)]
        if {b for b, _ in points} == set(BATCHES):
            fits[impl] = line_fit(points)
    ratios = {}
    for batch in REMAT_BATCHES:
        ours, theirs, remat = (peak("keras_resnet", batch), peak("pytorch", batch),
                               peak("keras_resnet", batch, "remat=blocks"))  # fmt: skip
        plain_s, remat_s = step_s(batch, "default"), step_s(batch, "remat=blocks")
        ratios[str(batch)] = {
            "ours_over_pytorch": round(ours / theirs, 3) if ours and theirs else None,
            "remat_over_pytorch": round(remat / theirs, 3) if remat and theirs else None,
            "remat_step_time_ratio": round(remat_s / plain_s, 2) if remat_s and plain_s else None,
        }
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "steps": STEPS,
        "repeats": REPEATS,
        "minutes": round((time.time() - started) / 60, 1),
        "rows": rows,
        "fits": fits,
        "ratios": ratios,
    }


def _mib(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Training memory: ResNet-50, ours against PyTorch",
        "",
        f"Generated by `python -m keras_resnet.bench.memory_report` on {m['cpus']} CPUs, "
        f"{m['memory_gib']} GiB, load average {m['load_average_before'][0]} before and "
        f"{m['load_average_after'][0]} after ({report['minutes']} min; {report['steps']} "
        "steps a run, each in its own process; the default workloads run "
        f"{report['repeats']} times, and the fit and ratios use every run). Peak RSS in MiB.",
        "",
        "| impl | batch | setting | after build | after step 1 | peak | step (s) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        step = "—" if r.get("step_s") is None else f"{r['step_s']:.1f}"
        lines.append(
            f"| {r['impl']} | {r['batch']} | {r['setting']} | {_mib(r.get('built_peak_mib'))} | "
            f"{_mib(r.get('first_step_peak_mib'))} | {_mib(r.get('peak_rss_mib'))} | {step} |"
            + (f" {r['error']}" if "error" in r else "")
        )
    lines += ["", "| impl | fixed (MiB) | per image (MiB) | worst residual (MiB) |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for impl, f in report["fits"].items():
        lines.append(
            f"| {impl} | {f['fixed_mib']:,.0f} | {f['per_image_mib']:.1f} | "
            f"{f['max_residual_mib']:.0f} |"
        )
    lines += ["", "| batch | ours / PyTorch | ours with remat / PyTorch | remat step time ratio |",
              "|---:|---:|---:|---:|"]  # fmt: skip
    for batch, r in report["ratios"].items():
        lines.append(
            f"| {batch} | {r['ours_over_pytorch']} | {r['remat_over_pytorch']} | "
            f"{r['remat_step_time_ratio']} |"
        )
    return "\n".join(lines) + "\n"


def main(path: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = collect()
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:
        f.write(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1]))
