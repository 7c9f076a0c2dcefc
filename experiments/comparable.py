"""Whether a run's numbers may stand beside the paper's: the one rule the reports use.

A table module names the setting its paper numbers were measured in (`PAPER_SETTING`, one of
experiments/paper.py's `IMAGENET_SETTING` / `CIFAR_SETTING`). Each finished run records its own
setting in its workdir: config.json (dataset, scale, batch, schedule, held-out split) and
results.json (the steps it trained and the test images it was measured on). `differences`
compares the two; the report heads the paper's columns "paper" only when no finished run
differs, and "paper (different setting)" otherwise, with the differences spelled out above the
table. The test protocol (centre crop, 10-crop, multi-scale) is not part of this rule: the
report puts each paper number only beside the measured column of its own protocol.
"""

from __future__ import annotations

# The words a report uses for each entry of a setting.
LABELS = {
    "dataset": "dataset",
    "scale": "scale",
    "batch_size": "batch",
    "lr_schedule": "lr schedule",
    "lr_boundaries": "lr boundaries",
    "steps": "iterations",
    "val_split": "held-out training images",
    "test_images": "test images",
}


def run_setting(run: dict) -> dict:
    """The setting one finished run (experiments.report.read_run's dict) was trained and
    tested in; None where its workdir does not say (e.g. no config.json)."""
    config = run.get("config") or {}
    boundaries = config.get("lr_boundaries")
    return {
        "dataset": run.get("dataset") or config.get("dataset"),
        "scale": config.get("scale"),
        "batch_size": config.get("batch_size"),
        "lr_schedule": config.get("lr_schedule"),
        # A plateau schedule has no boundaries: they would only be noise in the report.
        "lr_boundaries": None
        if boundaries is None or config.get("lr_schedule") == "plateau"
        else tuple(boundaries),
        "steps": run.get("steps"),
        "val_split": (config.get("data") or {}).get("val_split"),
        "test_images": run.get("test_images"),
    }


def _text(value) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    return f"{value:,}" if isinstance(value, int) else str(value)


def differences(paper_setting: dict | None, runs: list[dict]) -> list[str]:
    """What sets these finished runs apart from the paper's setting, as report phrases
    ("scale 0.01 (paper: 1)"); an empty list means every run matches it.

    The rule: a run is comparable to the paper's number when it trained on the paper's dataset
    at full scale (scale 1), with the paper's batch, learning-rate schedule and number of
    iterations (and, where the paper fixes them, its lr boundaries and held-out split), and was
    tested on the paper's test set (as many test images). Anything a workdir does not record
    counts as a difference ("unknown"): a number is put beside the paper's only when the files
    show it belongs there. No paper setting (a table the paper has no numbers for) or no
    finished run: nothing to compare, no differences."""
    if not paper_setting or not runs:
        return []
    out = []
    for key, label in LABELS.items():
        if key not in paper_setting:
            continue
        want = paper_setting[key]
        seen = sorted({_text(run_setting(r)[key]) for r in runs})
        if seen != [_text(want)]:
            out.append(f"{label} {' / '.join(seen)} (paper: {_text(want)})")
    return out


def _words(values: dict[str, list[str]]) -> str:
    return ", ".join(
        f"{LABELS[key]} {' / '.join(seen)}"
        for key, seen in values.items()
        if key in LABELS and seen and seen != ["unknown"]
    )


def describe(runs: list[dict]) -> str:
    """The setting of these runs in words, for a report's header: every value seen."""
    settings = [run_setting(r) for r in runs]
    return _words({key: sorted({_text(s[key]) for s in settings}) for key in LABELS})


def describe_setting(setting: dict) -> str:
    """A paper setting (experiments/paper.py) in the same words, its protocol last."""
    text = _words({key: [_text(value)] for key, value in setting.items()})
    return f"{text}, {setting['protocol']}" if "protocol" in setting else text
