"""The report's verdict on the paper's central claim: deeper plain nets train worse than
shallower ones (degradation, Figures 1, 4 and 6), and residual learning cures it.

It compares final training errors (the last metrics.csv row of each run, averaged over seeds;
experiments.report.read_run reads them) of plain and residual nets of two depths, and counts a
gap only when it exceeds the noise: runs that differ by a few images must not decide it.
"""

from __future__ import annotations

import statistics


def mean_run(runs: list[dict]) -> dict:
    """The errors of repeated runs averaged (for the depth verdicts, which compare models),
    with the spread of the final training error (0 for a single run)."""
    keys = ("top1_error", "top5_error", "train_error")
    out = {k: statistics.mean(r[k] for r in runs) for k in keys}
    out["train_error_std"] = (
        statistics.stdev(r["train_error"] for r in runs) if len(runs) > 1 else 0.0
    )
    return out


# The smallest gap in final training error (percentage points) that a verdict counts as a
# difference: on digits' 1,408 images a few images move a single run's error by ~0.3 points.
NOISE_POINTS = 0.5


def noise(a: dict, b: dict) -> float:
    """The gap below which two models' training errors tie: NOISE_POINTS, or the sum of their
    seed-to-seed standard deviations when repeated runs (`--runs=N`) show more spread."""
    return max(NOISE_POINTS, a["train_error_std"] + b["train_error_std"])


def verdict(plain_shallow, plain_deep, res_shallow=None, res_deep=None) -> str:
    """The paper's degradation claim for one pair of depths, from mean_run dicts:
    - "degradation": the deeper plain net ends with a training error higher by more than
      noise(); otherwise "tie" (within noise) or "none" (the deeper plain net is better);
    - then, where degradation shows and both ResNets exist, "cure" when the deeper ResNet ends
      within noise of the shallower one or below it, "no cure" otherwise."""
    gap = plain_deep["train_error"] - plain_shallow["train_error"]
    if abs(gap) <= noise(plain_shallow, plain_deep):
        return "tie"
    if gap < 0:
        return "none"
    if not (res_shallow and res_deep):
        return "degradation"
    res_gap = res_deep["train_error"] - res_shallow["train_error"]
    return (
        "degradation, cure" if res_gap <= noise(res_shallow, res_deep) else "degradation, no cure"
    )


def lines(runs: dict) -> list[str]:
    """Plain-vs-residual depth comparisons (the paper's degradation claim), where both exist."""
    out = []
    depths = sorted({int(n[5:]) for n in runs if n.startswith("plain") and n[5:].isdigit()})
    for shallow, deep in zip(depths, depths[1:]):
        p_s, p_d = runs.get(f"plain{shallow}"), runs.get(f"plain{deep}")
        r_s, r_d = runs.get(f"resnet{shallow}"), runs.get(f"resnet{deep}")
        if not (p_s and p_d):
            continue
        result = verdict(p_s, p_d, r_s, r_d)
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
        line += {
            "tie": f". The plain nets tie within noise (±{noise(p_s, p_d):.2f} points): this run "
            "shows neither the degradation problem nor its absence.",
            "none": ". This run does not show the degradation problem.",
            "degradation": ": the degradation problem is shown (no ResNets of these depths to "
            "compare).",
            "degradation, cure": ". Degradation shown, and residual learning avoids it.",
            "degradation, no cure": f". Degradation shown for plain nets, but ResNet-{deep} did "
            f"not reach ResNet-{shallow}'s training error within this budget: the cure is not "
            "shown.",
        }[result]
        out.append(line)
    return out
