"""`make bench-serving` (keras_resnet.serving.tools.serving_bench): every precision x path x
batching x concurrency cell, and the report it writes. A tiny model and short cells here;
the committed bench/serving-vm.* come from a full run on a quiet machine."""

import json

import pytest

from keras_resnet.serving.tools import serving_bench, serving_report


@pytest.mark.slow
def test_a_tiny_run_measures_every_cell_of_both_precisions(tmp_path, capsys):
    """resnet8 exported in float32 and bfloat16 (the exporter's default weights), served
    in-process, over REST and gRPC by the embedded server in a process of its own, batching
    off and on, at concurrency 1 and 2 (about a minute on 2 busy cores)."""
    argv = ["--model=resnet8", "--concurrency=1,2", "--seconds=0.3"]
    argv += [f"--workdir={tmp_path / 'exports'}", f"--out={tmp_path / 'out'}"]
    assert serving_bench.main(argv) == 0
    (json_path,) = (tmp_path / "out").glob("serving-*.json")
    results = json.loads(json_path.read_text())
    rows = results["rows"]
    cells = {(r["precision"], r["path"], r["batching"], r["concurrency"]) for r in rows}
    assert len(rows) == len(cells) == 2 * 3 * 2 * 2
    assert {r["precision"] for r in rows} == {"float32", "bfloat16"}
    # The exporter's default: variables in float32, constants in bfloat16.
    assert {(r["precision"], r["weights"]) for r in rows} == {
        ("float32", "variables"),
        ("bfloat16", "constants"),
    }
    assert all(r["errors"] == 0 and r["req_per_s"] > 0 for r in rows)
    assert all(0 < r["p50_ms"] <= r["p99_ms"] for r in rows)
    assert results["seconds"] == 0.3 and "--model=resnet8" in results["command"]
    assert "--tensorflow_intra_op_parallelism=" in json_path.with_suffix(".md").read_text()
    text = json_path.with_suffix(".md").read_text()
    assert text.count("| float32 (variables) |") == text.count("| bfloat16 (constants) |") == 12
    assert "\nfloat32 (weights as variables): gRPC+batching at c=8" not in text  # no c=8 here
    assert "\nbfloat16 (weights as constants): " in text and "x float32 (median of 12" in text
    assert "Wrote" in capsys.readouterr().out


def _row(precision, weights, path, batching, concurrency, rate, p50):
    return dict(
        precision=precision, weights=weights, path=path, batching=batching,
        concurrency=concurrency, req_per_s=rate, p50_ms=p50, p99_ms=2 * p50, errors=0,
    )  # fmt: skip


def test_the_line_per_precision_compares_against_in_process_and_the_first_precision():
    rows = []
    for precision, weights, scale in (
        ("float32", "variables", 1.0),
        ("bfloat16", "constants", 2.0),
    ):
        for path in serving_report.PATHS:
            for batching in (False, True):
                for c in (1, 8):
                    rate = scale * (10.0 if path == "gRPC" and batching else 20.0)
                    rows.append(_row(precision, weights, path, batching, c, rate, 100 / scale))
    lines = serving_report.precision_lines(rows)
    assert lines[0] == (
        "float32 (weights as variables): gRPC+batching at c=8 0.50x in-process without "
        "batching, 0.50x with batching (target >= 0.8x)"
    )
    assert lines[1].startswith("bfloat16 (weights as constants): gRPC+batching at c=8 0.50x")
    assert "req/s 2.00x float32 (median of 12 cells, 2.00-2.00x)" in lines[1]
    assert (
        "p50 ms at c=1 without batching: in-process 50.0 vs 100.0, REST 50.0 vs 100.0" in lines[1]
    )
    table = serving_report.markdown(rows)
    assert "| bfloat16 (constants) | gRPC | on | 8 | 20.00 | 50.0 | 100.0 |" in table


def test_an_unknown_precision_is_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        serving_bench.main(["--precisions=float32,int8"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--precisions takes float32,bfloat16,float16, got float32,int8" in err
    assert "\n" not in err
