"""Runs a paper table's models one after another and writes its report.

    python -m experiments.run TABLE [--models=a,b] [--dataset=NAME] [--scale=F]
                                    [--workdir_root=runs/experiments] [--out=experiments/results]
    make experiment TABLE=table6 ARGS="--scale=0.01"

TABLE is table2, table3, table6 or digits_degradation (the files beside this one). A model
whose workdir already holds results.json is skipped, so an interrupted table resumes where it
stopped (and an interrupted model resumes from its last backup). The report goes to
`<out>/<TABLE>.md` with `<TABLE>_curves.png` and `<TABLE>_responses.png`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import shlex
import sys

from keras_resnet import cli

TABLES = ("table2", "table3", "table6", "digits_degradation")


def _parse(argv):
    p = argparse.ArgumentParser(description="Run a paper table and report it.")
    p.add_argument("table", help=f"one of {', '.join(TABLES)}")
    p.add_argument("--models", default="", help="comma-separated subset of the table's configs")
    p.add_argument("--dataset", default="", help="override the table's dataset")
    p.add_argument("--scale", type=float, default=1.0, help="shrink steps and data (0 < s <= 1)")
    p.add_argument("--workdir_root", default="runs/experiments")
    p.add_argument("--out", default="experiments/results", help="where the report goes")
    p.add_argument("--num_images", type=int, default=500, help="images for Figure 7")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every model, e.g. --set batch_size=64 --set data.image_size=128",
    )
    return p.parse_args(argv)


def apply_overrides(config, pairs):
    """`KEY=VALUE` strings onto a ConfigDict; VALUE is a Python literal or else a string."""
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise cli.UserError(f"--set expects KEY=VALUE, got {pair!r}.")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        *parents, leaf = key.strip().split(".")
        node = config
        try:
            for part in parents:
                node = node[part]
            if leaf not in node:
                raise KeyError(leaf)
            node[leaf] = value
        except (KeyError, TypeError) as e:
            raise cli.UserError(f"--set {pair!r}: the config has no field {key!r} ({e}).") from None


def _workdir(args, module) -> str:
    tag = args.table
    if args.dataset and args.dataset != module.DEFAULT_DATASET:
        tag += f"-{args.dataset.replace(':', '_').replace('/', '_')}"
    if args.scale != 1.0:
        tag += f"-scale{args.scale:g}"
    if args.set:  # overridden runs never share (or skip on) a workdir of the stock recipe
        tag += "-" + "-".join(sorted(s.replace("=", "").replace(".", "_") for s in args.set))
    return os.path.join(args.workdir_root, tag)


def run(argv=None) -> int:
    args = _parse(argv)
    if args.table not in TABLES:
        raise cli.UserError(f"unknown table {args.table!r}; choose one of {', '.join(TABLES)}.")
    if not 0 < args.scale <= 1:
        raise cli.UserError(f"--scale must be in (0, 1], got {args.scale}.")
    module = importlib.import_module(f"experiments.{args.table}")
    models = [m.strip() for m in args.models.split(",") if m.strip()] or list(module.MODELS)
    unknown = [m for m in models if m not in module.MODELS]
    if unknown:
        raise cli.UserError(
            f"{args.table} has no config {unknown[0]!r}; choose from {', '.join(module.MODELS)}."
        )

    import keras

    from experiments import report
    from keras_resnet import analysis, train

    root = _workdir(args, module)
    runs = {}
    for i, name in enumerate(models, 1):
        workdir = os.path.join(root, name)
        if report.read_run(workdir) is None:
            print(f"[{i}/{len(models)}] {args.table}: training {name} in {workdir}", flush=True)
            config = module.get_config(name)
            if args.dataset:
                config.dataset = args.dataset
            config.scale = args.scale
            apply_overrides(config, args.set)
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
        images = analysis._test_images(workdir, args.num_images)
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
