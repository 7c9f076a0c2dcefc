"""`keras-resnet-train` (`make train`): trains a model with the paper's recipe or a config file.

    keras-resnet-train --model=resnet110 --workdir=runs/resnet110 [--config.batch_size=256]
    keras-resnet-train --config=experiments/table6.py:resnet56 --workdir=runs/t6/resnet56 \\
        [--config.KEY=VALUE ...] [--strategy=mirrored --virtual_cpus=2]

`--model` picks the recipe shipped in keras_resnet/configs: imagenet.py for ResNet-18..152 and
plain-18/34, cifar10.py for any 6n+2 depth. `--workdir` (and `--export_dir`, `--tensorboard_dir`)
may be a local folder or a bucket URI (gs://...); on Vertex AI they default to
AIP_CHECKPOINT_DIR, AIP_MODEL_DIR and AIP_TENSORBOARD_LOG_DIR. TF_CONFIG is checked before
TensorFlow starts (keras_resnet.training.cluster); `--tpu=local` is a TPU VM's own chips. Exit
statuses: keras_resnet.errors.EXIT_CODES (0 done, 2 user error, 138 transient, 143 SIGTERM). `--config` takes any config file instead. The work
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
        "workdir": flags.DEFINE_string(
            "workdir", None, "Run directory or bucket URI (default: $AIP_CHECKPOINT_DIR)."
        ),
        "export_dir": flags.DEFINE_string(
            "export_dir",
            None,
            "After training, export the model there for TF Serving (default: $AIP_MODEL_DIR).",
        ),
        "tensorboard_dir": flags.DEFINE_string(
            "tensorboard_dir",
            None,
            "TensorBoard logs (default: $AIP_TENSORBOARD_LOG_DIR, else WORKDIR/tensorboard).",
        ),
        "strategy": flags.DEFINE_enum(
            "strategy", "auto", list(distribute.STRATEGIES), "tf.distribute strategy."
        ),
        "tpu": flags.DEFINE_string(
            "tpu", None, "TPU address for --strategy=tpu (or auto); 'local' on a TPU VM."
        ),
        "virtual_cpus": flags.DEFINE_integer(
            "virtual_cpus", 0, "Split the host CPU into N logical devices (Mirrored, no GPUs)."
        ),
    }


def _train(values):
    from keras_resnet.training import cluster, distribute, train

    vertex = cluster.vertex_defaults()
    if values["config"].value is None:
        raise common.UserError("give --model=NAME (the paper's recipe) or --config=FILE:NAME.")
    workdir = values["workdir"].value or vertex.get("workdir")
    if not workdir:
        raise common.UserError("--workdir is required (WORKDIR= in make train).")
    distribute.configure_virtual_cpus(values["virtual_cpus"].value)
    strategy = distribute.get_strategy(values["strategy"].value, values["tpu"].value)
    tensorboard_dir = values["tensorboard_dir"].value or vertex.get("tensorboard_dir")
    results = train.train_and_evaluate(values["config"].value, workdir, strategy, tensorboard_dir)
    own = distribute.worker_workdir(workdir, strategy)
    export_dir = values["export_dir"].value or vertex.get("export_dir")
    if export_dir and own == workdir:  # the chief's model; every worker's is the same
        from keras_resnet.export import savedmodel

        model, pre = savedmodel.load_source(workdir)
        path = savedmodel.export_model(model, export_dir, pre, source=workdir)
        print(f"exported {path}", flush=True)
    # The command's result, on stdout: everything else is logged on stderr.
    print(train.result_line(results, own), flush=True)


def main(argv: list[str] | None = None) -> None:
    common.set_program("keras-resnet-train")
    common.exit_on_signals()  # one line, not a traceback, for a Ctrl-C during the imports
    from keras_resnet.training import cluster  # imports no TensorFlow

    common.run_cli(cluster.normalise_environ)  # a bad TF_CONFIG: one line, before TF starts
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
