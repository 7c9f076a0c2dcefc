"""Writes an experiment table's report: `experiments/results/<table>.md` with our numbers beside
the paper's, plus Figure 1/4/6-style error curves and the Figure 7 layer-response plot.

Everything here reads finished workdirs (config.json, metrics.csv, results.json, model.keras);
nothing is trained. Numbers in the "measured here" columns come from those files only.
"""

from __future__ import annotations

import csv
import json
import os
import statistics

from experiments import comparable, depth_verdicts, paper
from keras_resnet import machine


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
    config = os.path.join(workdir, "config.json")  # the setting it ran in (experiments.comparable)
    if os.path.exists(config):
        with open(config) as f:
            run["config"] = json.load(f)
    run["eval"] = {}  # keras-resnet-eval results by protocol (eval_<mode>.json), if any
    for name in sorted(os.listdir(workdir)):
        if name.startswith("eval_") and name.endswith(".json"):
            with open(os.path.join(workdir, name)) as f:
                result = json.load(f)
            run["eval"][result["mode"]] = result
    return run


def summary(values: list[float]) -> str:
    """One number as `x.xx`; several (repeated runs, `--runs=N`) as the paper reports its
    ResNet-110 runs (Table 6): `best (mean ± std)`, best = lowest error, std over the runs."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{min(values):.2f} ({statistics.mean(values):.2f} ± {statistics.stdev(values):.2f})"


PROTOCOLS = {"center": "centre crop", "10crop": "10-crop", "multiscale": "multi-scale"}
# Where a reader finds every number of the *paper* columns, relative to the repository root.
PAPER_FILE = "experiments/paper.py"


def _measured(key: str, mode: str | None = None):
    """A column cell: `key` of results.json (mode None: the training run's own single view) or
    of eval_<mode>.json, as best (mean ± std) over the runs."""

    def cell(name, done):
        if not done:
            return "not run"
        if mode is None:
            return summary([r[key] for r in done])
        values = [r["eval"][mode][key] for r in done if mode in r.get("eval", {})]
        return summary(values) if len(values) == len(done) else "not evaluated"

    return cell


def _paper(numbers: dict):
    def cell(name, done):
        value = numbers.get(name)
        return "—" if value is None else f"{value:.2f}"  # as printed: 7.40, not 7.4

    return cell


def _columns(module, paper_title: str = "paper") -> list:
    """(title, cell) per column. Each error column names its test protocol, and each paper
    column stands beside the measured column of the same protocol: a centre-crop number is
    never put next to the paper's 10-crop one. `paper_title` heads the paper's columns:
    "paper (different setting)" when the runs are not comparable (experiments.comparable);
    a table with no paper numbers (PAPER empty) has no paper columns."""
    modes = getattr(module, "EVAL_MODES", ())
    paper_mode = getattr(module, "PAPER_MODE", "center")
    top5 = getattr(module, "PAPER_TOP5", {})
    has_paper = bool(module.PAPER)
    view = PROTOCOLS["center"] if modes else "single view"
    cols = [(f"test top-1 error, {view} (measured here)", _measured("top1_error"))]
    if paper_mode == "center":
        cols.append(("top-5 (measured here)", _measured("top5_error")))
        if has_paper:
            cols.append((f"{paper_title} top-1 error", _paper(module.PAPER)))
            cols.append((f"{paper_title} top-5", _paper(top5)))
    for mode in modes:
        label = PROTOCOLS[mode]
        cols.append((f"top-1, {label} (measured here)", _measured("top1_error", mode)))
        if mode == paper_mode:
            if has_paper:
                cols.append((f"{paper_title} top-1, {label}", _paper(module.PAPER)))
            cols.append((f"top-5, {label} (measured here)", _measured("top5_error", mode)))
            if top5:
                cols.append((f"{paper_title} top-5, {label}", _paper(top5)))
        elif mode == "multiscale" and hasattr(module, "PAPER_MULTISCALE"):
            title = f"{paper_title} top-1, {label} (Table 4)"
            cols.append((title, _paper(module.PAPER_MULTISCALE)))
    return cols + [
        ("final training error (measured here)", _measured("train_error")),
        ("steps", lambda name, done: f"{done[0]['steps']}" if done else ""),
        (
            "images/s",
            lambda name, done: (
                f"{statistics.median(r['images_per_sec'] for r in done):.0f}" if done else ""
            ),
        ),
    ]


def setting_lines(module, runs: dict[str, list[dict]]) -> tuple[list[str], str]:
    """The report's lines on what it compares, and the title of its paper columns: the runs'
    own setting (dataset, scale, schedule, test images, protocols), then either that it is the
    paper's or what differs (experiments.comparable holds the rule)."""
    done = [r for rs in runs.values() for r in rs if r]
    protocols = ["single view" if not getattr(module, "EVAL_MODES", ()) else PROTOCOLS["center"]]
    protocols += [PROTOCOLS[m] for m in getattr(module, "EVAL_MODES", ())]
    lines = [
        f"- Setting of these runs: {comparable.describe(done) or 'no finished run'}; "
        f"test protocols: {', '.join(protocols)}."
    ]
    setting = getattr(module, "PAPER_SETTING", None)
    if not module.PAPER or not setting:
        lines.append("- The paper prints no numbers for this table: no paper column.")
        return lines, "paper"
    differ = comparable.differences(setting, done)
    if not differ:
        lines.append(
            "- The paper's setting (" + comparable.describe_setting(setting) + "): the paper's "
            "columns stand beside numbers of the same kind."
        )
        return lines, "paper"
    lines.append(
        "- **Not the paper's setting**: " + "; ".join(differ) + ". The paper's columns are "
        "headed *paper (different setting)*: they are for reference, not a reproduction."
    )
    return lines, "paper (different setting)"


def markdown(
    module, runs: dict[str, list[dict]], command: str, wall_s: float, hardware: str | None = None
) -> str:
    """`runs` maps each model to its finished runs (one per seed with `--runs=N`); `hardware`
    describes the machine they ran on (default: this one)."""
    repeats = max((len(r) for r in runs.values()), default=1)
    lines = [
        f"# {module.TITLE}",
        "",
        f"- Command: `{command}`",
        f"- Hardware: {hardware or machine.one_line()}",
        f"- Wall time of the runs reported: {wall_s / 60:.1f} min (sum of their training times)",
        f"- Runs per model: {repeats}"
        + (
            f" (seeds config.seed + 0..{repeats - 1}); each error is *best (mean ± std)* over the runs, as the paper's "
            "Table 6 reports ResNet-110 (best of 5 and mean ± std)."
            if repeats > 1
            else " (one seed; run with `--runs=N` for best (mean ± std))."
        ),
        "- Columns marked *measured here* come from this repository's runs on that hardware; "
        f"columns marked *paper* are from {paper.CITATION}, as {PAPER_FILE} holds them.",
    ]
    setting, paper_title = setting_lines(module, runs)
    lines += [*setting, ""]
    columns = _columns(module, paper_title)
    lines += [
        "| model | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in module.MODELS:
        done = runs.get(name) or []
        lines.append(f"| {name} | " + " | ".join(cell(name, done) for _, cell in columns) + " |")
    verdicts = depth_verdicts.lines(
        {name: depth_verdicts.mean_run(done) for name, done in runs.items() if done}
    )
    if verdicts:
        lines += ["", "## Depth: plain vs residual (measured here)", "", *verdicts]
    lines += per_seed_lines(module, runs)
    return "\n".join(lines) + "\n"


def per_seed_lines(module, runs: dict[str, list[dict]]) -> list[str]:
    """With repeated runs, each run's own errors, a row per seed, so that a reader (and a doc
    quoting them) finds every run's numbers in the report and not only best (mean ± std)."""
    if max((len(done) for done in runs.values()), default=0) < 2:
        return []
    lines = [
        "",
        "## Per seed (measured here)",
        "",
        "| model | seed | test top-1 error | final training error |",
        "|---|---:|---:|---:|",
    ]
    for name in module.MODELS:
        for i, run in enumerate(runs.get(name) or []):
            seed = run.get("config", {}).get("seed", f"+{i}")  # no config.json: its offset
            train = "—" if run["train_error"] is None else f"{run['train_error']:.2f}"
            lines.append(f"| {name} | {seed} | {run['top1_error']:.2f} | {train} |")
    return lines


def write(module, table: str, runs: dict, out: str, command: str, *, figures=(), hardware=None):
    """Writes `<out>/<table>.md` and its training-curve plot (each model's first run), linking
    the plot and `figures`, further plots already written beside it ("responses"); returns the
    report's path. Wall time: the sum of the runs' training times."""
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, table)
    first = {name: done[0] for name, done in runs.items() if done}
    plot_curves(first, f"{base}_curves.png", module.TITLE)
    wall = sum(float(r.get("train_time_s", 0)) for done in runs.values() for r in done)
    links = "\n\n".join(f"![{f}]({table}_{f}.png)" for f in ("curves", *figures))
    with open(f"{base}.md", "w") as f:
        f.write(markdown(module, runs, command, wall, hardware=hardware))
        f.write(f"\n{links}\n")
    return f"{base}.md"


def plot_curves(runs: dict, path: str, title: str) -> None:
    """Figures 1/4/6 style: training error (dashed) and test error (solid) against iterations,
    plain nets on the left, ResNets on the right. `runs` maps a model to one run (the first
    seed's, when rows were repeated)."""
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
