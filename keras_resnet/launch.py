"""`make train`: picks the paper's recipe for MODEL and runs keras_resnet.main.

    python -m keras_resnet.launch --model=resnet34 [--dataset=] [--epochs=] [--batch_size=]
        --workdir=runs/resnet34 -- [main's flags, e.g. --config.scale=0.1 --strategy=mirrored]

ImageNet nets (ResNet-18..152, plain-18/34) get experiments/imagenet.py; CIFAR nets (any
6n+2 depth) get experiments/cifar10.py. Empty values (unset make variables) are ignored.
"""

from keras_resnet import cli

cli.quiet_tensorflow()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import experiments  # noqa: E402
from keras_resnet import registry  # noqa: E402

RECIPES = {registry.IMAGENET: "imagenet.py", registry.CIFAR: "cifar10.py"}


def main_argv(args, extra) -> list[str]:
    try:
        spec = registry.get_spec(args.model)
    except ValueError as e:
        raise cli.UserError(str(e)) from None
    recipe = os.path.join(os.path.dirname(experiments.__file__), RECIPES[spec.family])
    argv = [f"--config={recipe}:{spec.name}", f"--workdir={args.workdir}"]
    for flag, value in (
        ("dataset", args.dataset),
        ("num_epochs", args.epochs),
        ("batch_size", args.batch_size),
    ):
        if value.strip():
            argv.append(f"--config.{flag}={value.strip()}")
    return argv + [a for a in extra if a != "--"]


def launch(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--workdir", required=True)
    for name in ("dataset", "epochs", "batch_size"):
        parser.add_argument(f"--{name}", default="")
    args, extra = parser.parse_known_args(argv)
    full = cli.run_cli(main_argv, args, extra)
    print("python -m keras_resnet.main " + " ".join(full), flush=True)
    # ml_collections' config_flags reads the --config.KEY overrides from sys.argv itself.
    sys.argv = [sys.argv[0], *full]
    from keras_resnet import main

    main.run()


if __name__ == "__main__":
    launch()
