"""Experiment reports: the verdict on degradation and its cure, and the paper's columns only
beside runs of the paper's setting. Runs are synthetic workdirs (config.json, metrics.csv,
results.json) written here and read back by experiments.report.read_run, as real ones are."""

import csv
import glob
import json
import os

import pytest

from experiments import (
    comparable,
    depth_verdicts,
    digits_degradation,
    paper,
    report,
    table3,
    table6,
)
from keras_resnet.configs import cifar10, imagenet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_run(workdir, config, train_errors, *, test_error=1.0, dataset=None, test_images=360):
    """A finished run: one metrics.csv row per epoch (its last training error is what the
    verdicts compare), results.json and config.json (None: a workdir without one)."""
    os.makedirs(workdir)
    with open(os.path.join(workdir, "metrics.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, ["epoch", "step", "top1_error", "val_top1_error"])
        writer.writeheader()
        for epoch, error in enumerate(train_errors, 1):
            writer.writerow(
                {"epoch": epoch, "step": 10 * epoch, "top1_error": error, "val_top1_error": 2.0}
            )
    results = {
        "model": "x",
        "dataset": dataset or (config or {}).get("dataset", "digits"),
        "top1_error": test_error,
        "top5_error": 0.0,
        "test_images": test_images,
        "steps": 10 * len(train_errors),
        "images_per_sec": 100.0,
        "train_time_s": 1.0,
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f)
    if config is not None:
        with open(os.path.join(workdir, "config.json"), "w") as f:
            json.dump(config, f)
    return report.read_run(workdir)


def digits_runs(tmp_path, final_errors: dict[str, list[float]]):
    """{model: [final training error per seed]} -> the runs experiments.run would report."""
    config = digits_degradation.get_config("plain20").to_dict()
    return {
        name: [
            write_run(str(tmp_path / f"{name}-seed{s}"), config, [50.0, 20.0, err])
            for s, err in enumerate(errors)
        ]
        for name, errors in final_errors.items()
    }


def verdict_line(tmp_path, final_errors):
    runs = digits_runs(tmp_path, final_errors)
    text = report.markdown(digits_degradation, runs, "python -m experiments.run x", 60.0)
    (line,) = [x for x in text.splitlines() if x.startswith("- plain-56")]
    return line


def test_verdict_degradation_and_cure(tmp_path):
    line = verdict_line(
        tmp_path, {"plain20": [0.3], "plain56": [20.0], "resnet20": [0.1], "resnet56": [0.4]}
    )
    assert "higher training error than plain-20 (20.00% vs 0.30%)" in line
    assert line.endswith("Degradation shown, and residual learning avoids it.")


def test_verdict_degradation_without_cure(tmp_path):
    line = verdict_line(
        tmp_path, {"plain20": [0.3], "plain56": [20.0], "resnet20": [0.1], "resnet56": [5.0]}
    )
    assert "ResNet-56 5.00% vs ResNet-20 0.10%" in line
    assert line.endswith("the cure is not shown.")


def test_verdict_neither_when_the_deeper_plain_net_is_better(tmp_path):
    line = verdict_line(
        tmp_path, {"plain20": [6.0], "plain56": [2.0], "resnet20": [0.1], "resnet56": [0.2]}
    )
    assert "lower training error" in line
    assert line.endswith("This run does not show the degradation problem.")


def test_verdict_tie_within_noise(tmp_path):
    # One seed each: 0.3 points apart is under NOISE_POINTS.
    line = verdict_line(tmp_path / "one", {"plain20": [1.0], "plain56": [1.3]})
    assert "tie within noise (±0.50 points)" in line and "Degradation shown" not in line
    # Two seeds each: 6 points apart, but the seeds of plain-56 spread further than that.
    line = verdict_line(tmp_path / "two", {"plain20": [1.0, 1.2], "plain56": [2.0, 12.0]})
    spread = 0.1414 + 7.0711  # the two stds
    assert f"tie within noise (±{spread:.2f} points)" in line
    # The same gap with tight seeds is degradation.
    line = verdict_line(tmp_path / "tight", {"plain20": [1.0, 1.2], "plain56": [6.9, 7.1]})
    assert "the degradation problem is shown" in line


def verdict_of(plain20, plain56, resnet20=None, resnet56=None):
    def run(errors):
        return None if errors is None else depth_verdicts.mean_run([{"top1_error": 0.0,
            "top5_error": 0.0, "train_error": e} for e in errors])  # fmt: skip

    return depth_verdicts.verdict(run(plain20), run(plain56), run(resnet20), run(resnet56))


def test_verdict_function_covers_each_outcome():
    assert verdict_of([0.3], [20.0], [0.1], [0.4]) == "degradation, cure"
    assert verdict_of([0.3], [20.0], [0.1], [0.61]) == "degradation, no cure"
    assert verdict_of([0.3], [20.0]) == "degradation"
    assert verdict_of([6.0], [2.0]) == "none"
    assert verdict_of([1.0], [1.5]) == "tie" and verdict_of([1.5], [1.0]) == "tie"


def header_and_row(text, model):
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    titles = [t.strip() for t in header.strip("|").split("|")]
    row = next(line for line in text.splitlines() if line.startswith(f"| {model} |"))
    return dict(zip(titles, (c.strip() for c in row.strip("|").split("|"))))


def test_paper_column_only_beside_a_run_of_the_papers_setting(tmp_path):
    full = cifar10.get_config("resnet20").to_dict()
    run = write_run(str(tmp_path / "full"), full, [0.5] * 3, test_error=8.5, test_images=10_000)
    run["steps"] = 64_000
    text = report.markdown(table6, {"resnet20": [run]}, "cmd", 60.0)
    cells = header_and_row(text, "resnet20")
    assert (
        cells["paper top-1 error"] == "8.75"
        and cells["test top-1 error, single view (measured here)"] == "8.50"
    )
    assert "The paper's setting (dataset cifar10, scale 1, batch 128" in text

    # The same recipe at scale 0.05 on digits: labelled with its setting, the paper's column
    # kept for reference under "paper (different setting)".
    small = {**full, "dataset": "digits", "scale": 0.05}
    run = write_run(str(tmp_path / "small"), small, [0.5] * 3, test_images=18)
    text = report.markdown(table6, {"resnet20": [run]}, "cmd", 60.0)
    cells = header_and_row(text, "resnet20")
    assert "paper top-1 error" not in cells
    assert cells["paper (different setting) top-1 error"] == "8.75"
    (label,) = [x for x in text.splitlines() if x.startswith("- **Not the paper's setting**")]
    for part in ("dataset digits (paper: cifar10)", "scale 0.05 (paper: 1)",
                 "iterations 30 (paper: 64,000)", "test images 18 (paper: 10,000)"):  # fmt: skip
        assert part in label
    assert "- Setting of these runs: dataset digits, scale 0.05, batch 128" in text
    assert "test protocols: single view." in text


def test_imagenet_paper_column_needs_the_plateau_recipe_and_the_50k_val_images(tmp_path):
    def run(name, spec, steps, test_images=50_000):
        r = write_run(str(tmp_path / name), imagenet.get_config(spec).to_dict(), [30.0],
                      test_images=test_images)  # fmt: skip
        r["steps"] = steps
        return r

    paper_run = run("paper", "resnet50,plateau", 600_000)
    assert comparable.differences(paper.IMAGENET_SETTING, [paper_run]) == []
    step90 = run("step90", "resnet50", 450_360)
    assert comparable.differences(paper.IMAGENET_SETTING, [paper_run, step90]) == [
        "lr schedule plateau / step (paper: plateau)",
        "iterations 450,360 / 600,000 (paper: 600,000)",
    ]
    text = report.markdown(table3, {"resnet50": [step90]}, "cmd", 60.0)
    assert "paper (different setting) top-1, 10-crop" in text
    assert "paper top-1, 10-crop" not in text and "| paper top-5" not in text
    assert "test protocols: centre crop, 10-crop, multi-scale." in text
    text = report.markdown(table3, {"resnet50": [paper_run]}, "cmd", 60.0)
    assert "| paper top-1, 10-crop |" in text.replace(" (measured here) |", " |")
    # A workdir that does not record its setting is never put beside the paper's number.
    bare = write_run(str(tmp_path / "bare"), None, [30.0], dataset="imagenet2012",
                     test_images=50_000)  # fmt: skip
    assert "scale unknown (paper: 1)" in comparable.differences(paper.IMAGENET_SETTING, [bare])


def test_a_table_without_paper_numbers_has_no_paper_column(tmp_path):
    runs = digits_runs(tmp_path, {"plain20": [0.3]})
    text = report.markdown(digits_degradation, runs, "cmd", 60.0)
    assert "| paper" not in text and "The paper prints no numbers for this table" in text


@pytest.mark.parametrize(
    "path",
    sorted(glob.glob(os.path.join(ROOT, "experiments", "results", "**", "*.md"), recursive=True)),
)
def test_committed_reports_put_no_paper_number_beside_an_unlike_run(path):
    """None of the committed reports is of the paper's setting (they are digits runs), so no
    column headed plainly "paper" may hold a number."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    titles = [t.strip() for t in header.strip("|").split("|")]
    plain = [i for i, t in enumerate(titles) if t.startswith("paper") and "different" not in t]
    for line in lines:
        if line.startswith("| ") and not line.startswith("| model |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert all(cells[i] in ("—", "") for i in plain), (path, line)
