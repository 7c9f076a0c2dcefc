"""`keras-resnet-bench` (`make bench`): throughput against the machine's matmul peak and peers.

    keras-resnet-bench [--quick] [--max_batch] [--out_dir=bench] [--verbosity=0]

What is measured and how is described in keras_resnet.bench.suite. The log (devices, each
measurement as it lands) goes to stderr at `--verbosity` (-1 warnings only, 0 info, 1 debug);
stdout gets the result, the Markdown table.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from keras_resnet.cli import common, extras, startup

logger = logging.getLogger(__name__)


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_boolean("quick", False, "fewer modes and iterations (< 4 min)", **where)
    flags.DEFINE_boolean(
        "max_batch",
        False,
        "also search for the largest ResNet-50 training batch that fits in this machine's "
        "memory, ours and PyTorch's (bisection to within 8 images: up to 10 runs each, "
        "~1-2 min a run on 2 cores)",
        **where,
    )
    flags.DEFINE_string("out_dir", "bench", "where results-<host>.{json,md} go", **where)
    flags.DEFINE_integer(
        "verbosity",
        0,
        "log level: -1 warnings only, 0 info, 1 debug",
        lower_bound=-1,
        upper_bound=1,
        **where,
    )


def main(argv: list[str] | None = None) -> int:
    values, rest = common.parse_flags("keras-resnet-bench", __doc__, _define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag.")
    extras.require("bench")  # the peers and the memory sampler: a run without them compares nothing
    quick, out_dir = values["quick"].value, values["out_dir"].value
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=values["verbosity"].value)
    from keras_resnet.bench import summary
    from keras_resnet.bench.suite import run

    start = time.time()
    results = run(quick, max_batch=values["max_batch"].value)
    results["wall_s"] = round(time.time() - start, 1)
    table = summary.markdown(results)
    print(table, flush=True)  # stdout: the result, and only it
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"results-{results['machine']['host']}{'-quick' if quick else ''}"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table + "\n")
    logger.info(f"wrote {out / stem}.json and .md in {results['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
