"""`make bench-serving`'s report: the rows of serving_bench as a table, a line per precision,
and the committed pair of files `serving-<host>.{json,md}`.

A row: {"precision", "weights", "path", "batching", "concurrency", "req_per_s", "p50_ms",
"p99_ms", "errors"}; one per precision x path x batching x concurrency.
"""

from __future__ import annotations

import json
import os
import socket
import statistics

PATHS = ("in-process", "REST", "gRPC")


def markdown(rows: list[dict]) -> str:
    lines = [
        "| precision (weights) | path | batching | concurrency | req/s | p50 ms | p99 ms |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['precision']} ({r['weights']}) | {r['path']} | "
            f"{'on' if r['batching'] else 'off'} | {r['concurrency']} | "
            f"{r['req_per_s']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def _cell(row: dict) -> tuple:
    return row["path"], row["batching"], row["concurrency"]


def precision_lines(rows: list[dict]) -> list[str]:
    """A line per precision: gRPC with batching at concurrency 8 against in-process (the
    serving target, >= 0.8x), and for each precision after the first, its requests/s and
    batch-1 latency against the first precision's on the same cells."""
    precisions = list(dict.fromkeys(r["precision"] for r in rows))
    by_cell = {p: {_cell(r): r for r in rows if r["precision"] == p} for p in precisions}
    lines = []
    for p in precisions:
        cells, parts = by_cell[p], []
        grpc8 = cells.get(("gRPC", True, 8))
        alone = [cells.get(("in-process", b, 8)) for b in (False, True)]
        if grpc8 and all(alone):
            parts.append(
                f"gRPC+batching at c=8 {grpc8['req_per_s'] / alone[0]['req_per_s']:.2f}x "
                f"in-process without batching, {grpc8['req_per_s'] / alone[1]['req_per_s']:.2f}x "
                "with batching (target >= 0.8x)"
            )
        base = precisions[0]
        shared = [c for c in cells if c in by_cell[base]]
        if p != base and shared:
            ratios = [cells[c]["req_per_s"] / by_cell[base][c]["req_per_s"] for c in shared]
            parts.append(
                f"req/s {statistics.median(ratios):.2f}x {base} (median of {len(shared)} cells, "
                f"{min(ratios):.2f}-{max(ratios):.2f}x)"
            )
            p50 = [
                f"{path} {cells[key]['p50_ms']:.1f} vs {by_cell[base][key]['p50_ms']:.1f}"
                for path in PATHS
                if (key := (path, False, 1)) in cells and key in by_cell[base]
            ]
            if p50:
                parts.append(f"p50 ms at c=1 without batching: {', '.join(p50)}")
        weights = next(r["weights"] for r in rows if r["precision"] == p)
        lines.append(f"{p} (weights as {weights}): " + "; ".join(parts or ["no comparable cells"]))
    return lines


def write(out_dir: str, rows: list[dict], meta: dict) -> str:
    """Writes `out_dir/serving-<host>.json` (meta and rows) and `.md`; returns the base path."""
    base = os.path.join(out_dir, f"serving-{socket.gethostname().split('.')[0]}")
    os.makedirs(out_dir, exist_ok=True)
    with open(f"{base}.json", "w") as f:
        json.dump({**meta, "rows": rows}, f, indent=2)
    machine = meta["machine"]
    header = [
        f"# make bench-serving: {meta['model']} (random weights, folded-BN exports), "
        "one 224x224 JPEG per request",
        "",
        f"Command: `{meta['command']}` ({meta['seconds']:g} s per cell). Machine: "
        f"{machine['cpu']}, {machine['usable_cores']} usable cores; TensorFlow "
        f"{machine['tensorflow']}; {machine['date']}. Latencies in ms. The server's TensorFlow "
        "thread pools, as keras-resnet-serve sizes them here: "
        + ", ".join(f"--{k}={v}" for k, v in meta["server_thread_pools"].items())
        + ".",
        "",
    ]
    with open(f"{base}.md", "w") as f:
        f.write("\n".join([*header, markdown(rows), "", *precision_lines(rows)]) + "\n")
    return base
