"""What a benchmark row is measured against: the matmul peak, and the best rate on this machine.

The matmul peak (one 4096² GEMM, `keras_resnet.bench.timing.matmul_peak_gflops`) is not a
ceiling for a convolutional network: oneDNN's and MLAS's conv kernels block for the cache in
ways one large GEMM does not, and ONNX Runtime and OpenVINO have run ResNet-50 at 102-112% of
it (bench/results-vm.md before this column). A figure above 100% is not a fraction of any limit,
so the report prints it as "> peak" and says why, never as a percentage.

Beside it, each row gets "% of best": its rate as a fraction of the best rate any runtime
reached in the same run on the same net, task, batch and precision (float32 or bf16: bf16 is a
different limit). That one is a fraction of something achieved here, so it never exceeds 100%.
"""

from __future__ import annotations

BF16 = "bf16"


def precision(mode: str) -> str:
    """ "bf16" for any mode computing in bfloat16 (bf16, xla_bf16, bf16_constants), else
    "float32": the matmul peak and the best rate are each taken per precision."""
    return BF16 if BF16 in mode else "float32"


def cell_key(row: dict) -> tuple:
    return row["model"], row["task"], row.get("batch"), precision(row["mode"])


def best_rates(rows: list[dict]) -> dict:
    """{(model, task, batch, precision): the row with the highest images/s}."""
    best: dict = {}
    for r in rows:
        key = cell_key(r)
        if key not in best or r["images_per_s"] > best[key]["images_per_s"]:
            best[key] = r
    return best


def annotate(rows: list[dict]) -> None:
    """Adds "pct_of_best" (0-100) and "best_by" (the impl and mode that set it) to each row."""
    best = best_rates(rows)
    for r in rows:
        top = best[cell_key(r)]
        r["pct_of_best"] = round(100 * r["images_per_s"] / top["images_per_s"], 1)
        r["best_by"] = f"{top['impl']} {top['mode']}"


def peak_cell(pct: float) -> str:
    """The matmul column of the table: a percentage up to 100, "> peak" above it."""
    return f"{pct:.0f}%" if pct <= 100 else "> peak"


def peak_note(rows: list[dict]) -> list[str]:
    """The sentence under the table when some row ran faster than the matmul "peak"."""
    over = [r for r in rows if r["pct_of_peak"] > 100]
    if not over:
        return []
    top = max(over, key=lambda r: r["pct_of_peak"])
    return [
        "",
        f'"> peak": {len(over)} row(s) ran above the measured matmul rate (up to '
        f"{top['pct_of_peak']:.0f}%, {top['impl']} {top['model']} {top['mode']} batch "
        f"{top.get('batch')}), so that rate is not a ceiling for these nets and those rows are "
        'not given as a fraction of it. "% of best" is each row\'s rate over the best rate any '
        "runtime reached in this run for the same net, task, batch and precision.",
    ]
