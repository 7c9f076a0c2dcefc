"""`keras-resnet-bench` (`make bench`): throughput against the machine's matmul peak and peers.

    keras-resnet-bench [--quick] [--max_batch] [--out_dir=bench]

What is measured and how is described in keras_resnet.bench.run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="keras-resnet-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer modes and iterations (< 4 min)")
    parser.add_argument(
        "--max_batch",
        action="store_true",
        help="also search for the largest ResNet-50 training batch that fits in this machine's "
        "memory, ours and PyTorch's (up to 4 runs each; ~10 min more on 2 cores)",
    )
    parser.add_argument("--out_dir", default="bench", help="where results-<host>.{json,md} go")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_resnet.bench import report as bench_report
    from keras_resnet.bench.run import run

    start = time.time()

    def log(message):  # with the elapsed time: what each part costs is part of the result
        print(f"[{time.time() - start:4.0f} s] {message}", file=sys.stderr, flush=True)

    results = run(args.quick, log=log, max_batch=args.max_batch)
    results["wall_s"] = round(time.time() - start, 1)
    table = bench_report.markdown(results)
    print(table)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"results-{results['machine']['host']}{'-quick' if args.quick else ''}"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table + "\n")
    print(f"\nwrote {out / stem}.json and .md in {results['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
