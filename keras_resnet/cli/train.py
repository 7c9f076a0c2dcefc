"""`keras-resnet-train` (`make train`): trains a model with the paper's recipe or a config file.

    keras-resnet-train --model=resnet110 --workdir=runs/resnet110 [--config.batch_size=256]
    keras-resnet-train --config=experiments/table6.py:resnet56 --workdir=runs/t6/resnet56 \\
        [--config.KEY=VALUE ...] [--strategy=mirrored --virtual_cpus=2]

`--model` picks the recipe shipped in keras_resnet/configs: imagenet.py for ResNet-18..152 and
plain-18/34, cifar10.py for any 6n+2 depth. `--config` takes any config file instead. The work
is `keras_resnet.training.train.train_and_evaluate(config, workdir)`; this module only parses
flags, and does nothing at import time. The log (devices, progress, epochs) goes to stderr at
`--verbosity` (-1 warnings only, 0 info, 1 debug); stdout gets the result line.
"""

from __future__ import annotations

import sys

from keras_resnet.cli import common, startup


def _with_recipe(argv: list[str]) -> list[str]:
    """Replaces `--model=NAME` by `--config=<packaged recipe>:NAME` (config_flags reads the
    config file while parsing, so the file must be known before absl parses anything)."""
    from keras_resnet import configs

    model, rest = None, [argv[0]]
    args = iter(argv[1:])
    for arg in args:
        if arg == "--model":
            model = next(args, "")
        elif arg.startswith("--model="):
            model = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if model is None:
        return rest
    if any(a == "--config" or a.startswith("--config=") for a in rest):
        raise common.UserError(f"give --model={model} or --config=FILE, not both.")
    try:
        path = configs.recipe_path(model.strip())
    except ValueError as e:
        raise common.UserError(str(e)) from None
    return [rest[0], f"--config={path}", *rest[1:]]


def _define_flags():
    from absl import flags
    from ml_collections import config_flags

    from keras_resnet.training import distribute

    return {
        "config": config_flags.DEFINE_config_file(
            "config", None, "Config file, e.g. experiments/table6.py:resnet110.", lock_config=True
        ),
        "workdir": flags.DEFINE_string("workdir", None, "Run directory (outputs, resume state)."),
        "strategy": flags.DEFINE_enum(
            "strategy", "auto", list(distribute.STRATEGIES), "tf.distribute strategy."
        ),
        "tpu": flags.DEFINE_string("tpu", None, "TPU address for --strategy=tpu (or auto)."),
        "virtual_cpus": flags.DEFINE_integer(
            "virtual_cpus", 0, "Split the host CPU into N logical devices (Mirrored, no GPUs)."
        ),
    }


def _train(values):
    from keras_resnet.training import distribute, train

    if values["config"].value is None:
        raise common.UserError("give --model=NAME (the paper's recipe) or --config=FILE:NAME.")
    if not values["workdir"].value:
        raise common.UserError("--workdir is required (WORKDIR= in make train).")
    distribute.configure_virtual_cpus(values["virtual_cpus"].value)
    strategy = distribute.get_strategy(values["strategy"].value, values["tpu"].value)
    workdir = values["workdir"].value
    results = train.train_and_evaluate(values["config"].value, workdir, strategy)
    # The command's result, on stdout: everything else is logged on stderr.
    print(train.result_line(results, distribute.worker_workdir(workdir, strategy)), flush=True)


def main(argv: list[str] | None = None) -> None:
    common.set_program("keras-resnet-train")
    common.exit_on_signals()  # one line, not a traceback, for a Ctrl-C during the imports
    startup.quiet_tensorflow()  # before anything imports TensorFlow: keeps user errors one line
    argv = common.run_cli(_with_recipe, list(sys.argv if argv is None else argv))
    values = _define_flags()

    def run(rest):
        if len(rest) > 1:
            common.fail(
                f"unexpected arguments {rest[1:]}; settings go in --config.KEY=VALUE flags."
            )
        common.run_cli(_train, values)

    common.run_absl(run, argv, __doc__, "keras-resnet-train")


if __name__ == "__main__":
    main()
