"""`keras-resnet-bench` (`make bench`): throughput against the machine's matmul peak and peers.

    keras-resnet-bench [--quick] [--max_batch] [--out_dir=bench] [--verbosity=0]

What is measured and how is described in keras_resnet.bench.suite. The log (devices, each
measurement as it lands) goes to stderr at `--verbosity` (-1 warnings only, 0 info, 1 debug);
stdout gets the result, the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from keras_resnet.cli import startup

logger = logging.getLogger(__name__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="keras-resnet-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer modes and iterations (< 4 min)")
    parser.add_argument(
        "--max_batch",
        action="store_true",
        help="also search for the largest ResNet-50 training batch that fits in this machine's "
        "memory, ours and PyTorch's (bisection to within 8 images: up to 10 runs each, "
        "~1-2 min a run on 2 cores)",
    )
    parser.add_argument("--out_dir", default="bench", help="where results-<host>.{json,md} go")
    parser.add_argument(
        "--verbosity",
        type=int,
        default=0,
        choices=(-1, 0, 1),
        help="log level: -1 warnings only, 0 info, 1 debug (default: 0)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=args.verbosity)
    from keras_resnet.bench import summary
    from keras_resnet.bench.suite import run

    start = time.time()
    results = run(args.quick, max_batch=args.max_batch)
    results["wall_s"] = round(time.time() - start, 1)
    table = summary.markdown(results)
    print(table, flush=True)  # stdout: the result, and only it
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"results-{results['machine']['host']}{'-quick' if args.quick else ''}"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table + "\n")
    logger.info(f"wrote {out / stem}.json and .md in {results['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
