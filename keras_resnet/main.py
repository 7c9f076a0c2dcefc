"""Training entry point: parses flags, nothing else.

    python -m keras_resnet.main --config=experiments/cifar10.py:resnet110 \\
        --workdir=runs/resnet110 [--config.scale=0.01] [--strategy=mirrored --virtual_cpus=2]

The work is `keras_resnet.train.train_and_evaluate(config, workdir)`.
"""

from keras_resnet import cli

cli.exit_on_signals()  # one line, not a traceback, for a Ctrl-C during the imports
cli.quiet_tensorflow()  # before anything imports TensorFlow: keeps user errors one line

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from keras_resnet import distribute  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config, e.g. experiments/cifar10.py:resnet110.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (outputs, resume state).")
_STRATEGY = flags.DEFINE_enum(
    "strategy", "auto", list(distribute.STRATEGIES), "tf.distribute strategy."
)
_TPU = flags.DEFINE_string("tpu", None, "TPU address for --strategy=tpu (or auto).")
_VIRTUAL_CPUS = flags.DEFINE_integer(
    "virtual_cpus", 0, "Split the host CPU into N logical devices (Mirrored without GPUs)."
)
flags.mark_flags_as_required(["config", "workdir"])


def _train():
    from keras_resnet import train

    distribute.configure_virtual_cpus(_VIRTUAL_CPUS.value)
    strategy = distribute.get_strategy(_STRATEGY.value, _TPU.value)
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value, strategy)


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]}; settings go in --config.KEY=VALUE flags.")
    cli.run_cli(_train)


def run(argv=None):
    app.run(main, argv=argv)


if __name__ == "__main__":
    run()
