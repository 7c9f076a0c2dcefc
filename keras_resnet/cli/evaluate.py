"""`keras-resnet-eval` (`make eval`): a trained workdir's top-1 and top-5 test error.

    keras-resnet-eval --workdir=runs/resnet50 --mode=10crop [--checkpoint=final|best|last]

Modes are described in keras_resnet.evaluation.evaluate (centre crop, the paper's 10-crop, and
Table 4's fully-convolutional multi-scale testing). Nothing happens at import time. The log
(devices, progress) goes to stderr at `--verbosity`; stdout gets the result line.
"""

from __future__ import annotations

import sys

from keras_resnet.cli import common, startup

CHECKPOINTS = ("final", "best", "last")


def main(argv: list[str] | None = None) -> None:
    common.exit_on_signals()
    startup.quiet_tensorflow()
    from absl import flags

    from keras_resnet.evaluation import evaluate

    workdir = flags.DEFINE_string("workdir", None, "A trained run's directory.")
    mode = flags.DEFINE_enum("mode", "center", list(evaluate.MODES), "Test-time views.")
    checkpoint = flags.DEFINE_enum("checkpoint", "final", list(CHECKPOINTS), "Which model.")

    def run(rest):
        if len(rest) > 1:
            common.fail(f"unexpected arguments {rest[1:]}.")
        if not workdir.value:
            common.fail("--workdir is required (make eval WORKDIR=runs/...).")
        result = common.run_cli(evaluate.evaluate, workdir.value, mode.value, checkpoint.value)
        print(evaluate.result_line(result), flush=True)  # stdout: the result, and only it

    common.run_absl(run, list(sys.argv if argv is None else argv), __doc__, "keras-resnet-eval")


if __name__ == "__main__":
    main()
