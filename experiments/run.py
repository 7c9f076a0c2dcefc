"""Runs a paper table's models one after another and writes its report.

    python -m experiments.run TABLE [--models=a,b] [--config.KEY=VALUE ...]
                                    [--workdir_root=runs/experiments] [--out=experiments/results]
    make experiment TABLE=table6 ARGS="--config.scale=0.01"

TABLE is table2, table3, table6 or digits_degradation (the files beside this one). A model
whose workdir already holds results.json is skipped, so an interrupted table resumes where it
stopped (and an interrupted model resumes from its last backup). The report goes to
`<out>/<TABLE>.md` with `<TABLE>_curves.png` and `<TABLE>_responses.png`.

`--config.KEY=VALUE` overrides a field of every row's config, with the same syntax and parsing
as keras-resnet-train (keras_resnet.configs.overrides): `--config.scale=0.01` for a smoke run,
`--config.dataset=imagenette`, `--config.batch_size=64`. Overridden runs get their own workdir.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
import sys

from keras_resnet.cli import common as cli
from keras_resnet.configs import overrides

TABLES = ("table2", "table3", "table6", "digits_degradation")


def _parse(argv):
    p = argparse.ArgumentParser(description="Run a paper table and report it.")
    p.add_argument("table", help=f"one of {', '.join(TABLES)}")
    p.add_argument("--models", default="", help="comma-separated subset of the table's configs")
    p.add_argument("--workdir_root", default="runs/experiments")
    p.add_argument("--out", default="experiments/results", help="where the report goes")
    p.add_argument("--num_images", type=int, default=500, help="images for Figure 7")
    p.epilog = "Any --config.KEY=VALUE overrides that field of every row's config."
    args, rest = p.parse_known_args(argv)
    args.overrides = [a for a in rest if overrides.is_override(a)]
    unknown = [a for a in rest if not overrides.is_override(a)]
    if unknown:
        raise cli.UserError(
            f"unknown argument {unknown[0]!r}; config fields are set with --config.KEY=VALUE."
        )
    return args


def _workdir(args) -> str:
    """Overridden runs never share (or skip on) a workdir of the stock recipe."""
    tag = args.table
    for arg in sorted(args.overrides):
        key, _, value = arg.lstrip("-").removeprefix("config.").partition("=")
        tag += "-" + re.sub(r"[^\w.,()-]+", "_", f"{key}{value}")
    return os.path.join(args.workdir_root, tag)


def run(argv=None) -> int:
    args = _parse(argv)
    if args.table not in TABLES:
        raise cli.UserError(f"unknown table {args.table!r}; choose one of {', '.join(TABLES)}.")
    module = importlib.import_module(f"experiments.{args.table}")
    models = [m.strip() for m in args.models.split(",") if m.strip()] or list(module.MODELS)
    unknown = [m for m in models if m not in module.MODELS]
    if unknown:
        raise cli.UserError(
            f"{args.table} has no config {unknown[0]!r}; choose from {', '.join(module.MODELS)}."
        )

    import keras

    from experiments import report
    from keras_resnet.evaluation import analysis
    from keras_resnet.training import train

    for name in models:  # every override is checked before the first row trains
        train.validate(overrides.apply(module.get_config(name), args.overrides))
    root = _workdir(args)
    runs = {}
    for i, name in enumerate(models, 1):
        workdir = os.path.join(root, name)
        if report.read_run(workdir) is None:
            print(f"[{i}/{len(models)}] {args.table}: training {name} in {workdir}", flush=True)
            config = overrides.apply(module.get_config(name), args.overrides)
            train.train_and_evaluate(config, workdir)
            keras.utils.clear_session()  # a table's runs share this process: drop old graphs
        else:
            print(f"[{i}/{len(models)}] {args.table}: {name} already finished, skipped", flush=True)
        runs[name] = report.read_run(workdir)

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.table)
    report.plot_curves(runs, f"{base}_curves.png", module.TITLE)
    curves = {}
    for name in runs:
        workdir = os.path.join(root, name)
        model = keras.models.load_model(os.path.join(workdir, "model.keras"), safe_mode=True)
        images = analysis.test_images(workdir, args.num_images)
        curves[name] = analysis.layer_responses(model, images)
    analysis.plot_responses(curves, f"{base}_responses.png", "Figure 7: std of 3x3 layer responses")
    command = "python -m experiments.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    wall = sum(float(r.get("train_time_s", 0)) for r in runs.values())
    with open(f"{base}.md", "w") as f:
        f.write(report.markdown(module, runs, command, wall))
        f.write(
            f"\n![curves]({args.table}_curves.png)\n\n![responses]({args.table}_responses.png)\n"
        )
    print(f"wrote {base}.md, {base}_curves.png and {base}_responses.png", flush=True)
    return 0


def main():
    cli.quiet_tensorflow()
    sys.exit(cli.run_cli(run))


if __name__ == "__main__":
    main()
