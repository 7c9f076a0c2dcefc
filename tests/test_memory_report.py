"""The training-memory report (`python -m keras_resnet.bench.memory_report PATH`): the line fit
that splits a peak into fixed and per-image memory, the workload's argument checks, and the
Markdown written from a report; and `saved_tensors` on a small net, both frameworks real."""

import re

import pytest

from keras_resnet.bench import memory, memory_report


def test_line_fit_recovers_a_line_and_reports_the_misfit():
    exact = memory_report.line_fit([(b, 1000.0 + 80 * b) for b in (16, 32, 32, 64)])
    assert exact == {"fixed_mib": 1000.0, "per_image_mib": 80.0, "max_residual_mib": 0.0}
    bent = memory_report.line_fit([(16, 2000.0), (32, 3000.0), (64, 6000.0)])
    assert bent["per_image_mib"] > 0 and bent["max_residual_mib"] > 100


@pytest.mark.parametrize(
    "argv",
    [
        ["keras_resnet", "train"],
        ["tensorflow", "train", "32"],
        ["keras_resnet", "train", "0"],
        ["keras_resnet", "train", "32", "3", "remat"],
        ["keras_resnet", "train", "32", "3", "precision=bf16"],
    ],
)
def test_workload_arguments_are_checked(argv):
    with pytest.raises(ValueError, match="usage: IMPL TASK BATCH.*got " + re.escape(repr(argv))):
        memory.child_main(argv)


def test_markdown_has_every_row_and_the_ratios():
    row = {"built_peak_mib": 900.0, "first_step_peak_mib": 4000.0, "step_s": 3.0}
    report = {
        "machine": {
            "cpus": 2,
            "memory_gib": 23.5,
            "load_average_before": [1.0, 1, 1],
            "load_average_after": [2.0, 1, 1],
        },  # fmt: skip
        "steps": 3,
        "repeats": 2,
        "minutes": 20.0,
        "rows": [
            {
                "impl": "keras_resnet",
                "batch": 32,
                "setting": "default",
                "peak_rss_mib": 5000.0,
                **row,
            },  # fmt: skip
            {"impl": "pytorch", "batch": 32, "setting": "default", "error": "exit 1: boom"},
        ],
        "fits": {"pytorch": {"fixed_mib": 700.0, "per_image_mib": 90.0, "max_residual_mib": 5}},
        "ratios": {
            "32": {
                "ours_over_pytorch": 1.35,
                "remat_over_pytorch": 0.8,
                "remat_step_time_ratio": 1.3,
            }
        },  # fmt: skip
    }
    text = memory_report.markdown(report)
    assert "| keras_resnet | 32 | default | 900 | 4,000 | 5,000 | 3.0 |" in text
    assert "| pytorch | 32 | default | — | — | — | — | exit 1: boom" in text
    assert "| pytorch | 700 | 90.0 | 5 |" in text
    assert "| 32 | 1.35 | 0.8 | 1.3 |" in text


def test_both_frameworks_keep_the_same_conv_and_relu_outputs_for_backprop():
    """`saved_tensors` on ResNet-18 at 64x64: the conv outputs (BN's inputs) and ReLU outputs
    that backprop keeps are the same bytes in both frameworks; ours adds the padded copies that
    our explicit ZeroPadding2D layers make (torch's convs pad inside)."""
    from keras_resnet.bench import saved_tensors

    ours = saved_tensors.keras_saved(2, "resnet18", 64)
    theirs = saved_tensors.torch_saved(2, "resnet18", 64)
    assert ours["Conv2D"] == pytest.approx(theirs["ConvolutionBackward0"], rel=1e-3)
    assert ours["Relu"] == pytest.approx(theirs["ReluBackward0"], rel=1e-3)
    assert ours["Pad"] > 0 and "Pad" not in theirs
