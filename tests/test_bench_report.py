"""The benchmark's ratios and report are computed from measured rows, not assumed."""

from keras_resnet.bench import report as bench_report


def _row(impl, model, task, mode, rate, pct=50.0):
    return {"impl": impl, "model": model, "task": task, "mode": mode, "images_per_s": rate,
            "gflops": 1.0, "pct_of_peak": pct}  # fmt: skip


def _results():
    rows = [
        _row("keras_resnet", "resnet50", "infer", "float32", 10.0, pct=40.0),
        _row("keras_resnet", "resnet50", "infer", "xla", 20.0),
        _row("keras_resnet", "resnet50", "train", "float32", 4.0),
        _row("keras.applications", "resnet50", "infer", "float32", 8.0),
        _row("keras.applications", "resnet50", "train", "float32", 5.0),
        _row("pytorch", "resnet50", "infer", "float32", 9.0),
        _row("pytorch", "resnet50", "infer", "bf16", 25.0),
    ]
    pipeline = {"cifar10": {"what": "mock", "images_per_s": 300.0, "step_images_per_s": 100.0}}
    return {
        "machine": {"cpu": "test cpu", "cores": 2, "gpus": [], "tensorflow": "x", "date": "d"},
        "quick": True,
        "peak_gflops": {"float32": 100.0, "bfloat16": 200.0},
        "rows": rows,
        "pipeline": pipeline,
    }


def test_ratios_are_computed_from_rows():
    r = bench_report.ratios(_results())
    assert r["resnet50_infer_vs_keras_applications_float32"] == 1.25
    assert r["resnet50_train_vs_keras_applications_float32"] == 0.8
    assert r["resnet50_infer_best_vs_pytorch_best"] == 0.8  # xla 20 vs torch bf16 25
    assert r["resnet50_infer_modes_compared"] == "xla vs bf16"
    assert r["resnet50_infer_fastest_mode_vs_float32"] == 2.0
    assert r["resnet50_infer_float32_pct_of_peak"] == 40.0
    assert r["pipeline_cifar10_vs_train_step"] == 3.0
    assert "resnet50_train_best_vs_pytorch_best" not in r  # torch training not measured


def test_markdown_lists_every_row_and_target():
    results = _results()
    results["ratios"] = bench_report.ratios(results)
    text = bench_report.markdown(results)
    assert text.count("| keras_resnet |") == 3
    for key, _ in bench_report.TARGETS:
        assert key in text
    assert "| resnet50_train_best_vs_pytorch_best | >= 1.0 | not measured |" in text


def test_fused_bn_gain_is_a_ratio_of_two_measured_rows():
    results = _results()
    results["rows"].append(_row("keras_resnet_standard_bn", "resnet50", "infer", "float32", 8.0))
    results["ratios"] = r = bench_report.ratios(results)
    assert r["resnet50_infer_float32_fused_bn_vs_standard_bn"] == 1.25
    assert "resnet50_train_float32_fused_bn_vs_standard_bn" not in r  # standard BN not measured
    assert "| resnet50_infer_float32_fused_bn_vs_standard_bn | 1.25 |" in bench_report.markdown(
        results
    )
