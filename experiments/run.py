"""Runs a paper table's models one after another and writes its report.

    python -m experiments.run TABLE [--models=a,b] [--runs=N] [--config.KEY=VALUE ...]
                                    [--workdir_root=runs/experiments] [--out=experiments/results]
    make experiment TABLE=table6 ARGS="--config.scale=0.01"

TABLE is table2, table3, table6, table6_tuning or digits_degradation (the files beside this one). Each row is
trained `--runs` times, with seeds config.seed, config.seed + 1, ..., in workdirs named
`<model>-seed<seed>`; the report gives *best (mean ± std)* over them, as the paper's Table 6
does for ResNet-110. A run whose workdir already holds results.json is skipped, so an
interrupted table resumes where it stopped (and an interrupted run from its last backup). The report goes to
`<out>/<TABLE>.md` with `<TABLE>_curves.png` and `<TABLE>_responses.png`. ImageNet tables
(EVAL_MODES in their module) also evaluate every finished run with the paper's protocols
(10-crop for Tables 2 and 3, multi-scale for Table 4's) and report each in its own column.

`--config.KEY=VALUE` overrides a field of every row's config, with the same syntax and parsing
as keras-resnet-train (keras_resnet.configs.overrides): `--config.scale=0.01` for a smoke run,
`--config.dataset=imagenette`, `--config.batch_size=64`. Overridden runs get their own workdir
(`--config.progress_every_s`, which only changes the log, excepted).

The log goes to stderr (absl's format; `--verbosity=-1` for warnings only): each row with the
table's elapsed time and ETA, then the row's training, which shows Keras' progress bar on a
terminal and otherwise a line at least every `progress_every_s` seconds; stdout gets the
report's paths at the end.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import shlex
import sys
import time

from keras_resnet.cli import common as cli
from keras_resnet.cli import startup
from keras_resnet.configs import base as base_config
from keras_resnet.configs import overrides

logger = logging.getLogger("experiments.run")  # __name__ is "__main__" under python -m

TABLES = ("table2", "table3", "table6", "table6_tuning", "digits_degradation")


def _parse(argv):
    p = argparse.ArgumentParser(description="Run a paper table and report it.")
    p.add_argument("table", help=f"one of {', '.join(TABLES)}")
    p.add_argument("--models", default="", help="comma-separated subset of the table's configs")
    p.add_argument("--workdir_root", default="runs/experiments")
    p.add_argument("--out", default="experiments/results", help="where the report goes")
    p.add_argument("--num_images", type=int, default=500, help="images for Figure 7")
    p.add_argument("--runs", type=int, default=1, help="train each row N times, one seed each")
    p.add_argument("--verbosity", type=int, default=0, help="-1 warnings only, 0 info, 1 debug")
    p.epilog = "Any --config.KEY=VALUE overrides that field of every row's config."
    args, rest = p.parse_known_args(argv)
    args.overrides = [a for a in rest if overrides.is_override(a)]
    unknown = [a for a in rest if not overrides.is_override(a)]
    if unknown:
        raise cli.UserError(
            f"unknown argument {unknown[0]!r}; config fields are set with --config.KEY=VALUE."
        )
    return args


def _workdir(table: str, config_overrides: list[str], workdir_root: str) -> str:
    """The table's workdir under `workdir_root`: overridden runs (`--config.KEY=VALUE` in
    `config_overrides`) never share (or skip on) a workdir of the stock recipe."""
    tag = table
    for arg in sorted(config_overrides):
        key, _, value = arg.lstrip("-").removeprefix("config.").partition("=")
        if key in base_config.REPORTING_ONLY:  # changes the log, not the run
            continue
        tag += "-" + re.sub(r"[^\w.,()-]+", "_", f"{key}{value}")
    return os.path.join(workdir_root, tag)


def _table_eta(started: float, trained: list[float], jobs_left: int) -> str:
    """The table's elapsed time, and an ETA from the rows trained so far in this process."""
    from keras_resnet.progress import duration

    elapsed = time.monotonic() - started
    eta = sum(trained) / len(trained) * jobs_left if trained else float("nan")
    return f"table elapsed {duration(elapsed)}, ETA {duration(eta)}"


def run(argv=None, log_to_stderr: bool = False) -> int:
    """Trains and reports a table; `log_to_stderr` (the command line) sets up absl logging."""
    args = _parse(argv)
    if log_to_stderr:
        startup.use_absl_logging(args.verbosity)
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

    from experiments import comparable, report
    from keras_resnet import progress
    from keras_resnet.evaluation import analysis, evaluate
    from keras_resnet.training import train

    if args.runs < 1:
        raise cli.UserError(f"--runs must be at least 1, got {args.runs}.")
    for name in models:  # every override is checked before the first row trains
        train.validate(overrides.apply(module.get_config(name), args.overrides))
    root = _workdir(args.table, args.overrides, args.workdir_root)
    jobs = [(name, r) for name in models for r in range(args.runs)]
    runs: dict[str, list[dict]] = {name: [] for name in models}
    workdirs: dict[str, str] = {}  # each model's first run: the curves and Figure 7 use it
    started, trained = time.monotonic(), []
    for i, (name, r) in enumerate(jobs, 1):
        config = overrides.apply(module.get_config(name), args.overrides)
        config.seed = config.seed + r
        workdir = os.path.join(root, f"{name}-seed{config.seed}")
        workdirs.setdefault(name, workdir)
        tag = f"[{i}/{len(jobs)}] {args.table}: {name} (seed {config.seed})"
        if report.read_run(workdir) is None:
            left = len(jobs) - i + 1
            logger.info(f"{tag}: training in {workdir} ({_table_eta(started, trained, left)})")
            row_start = time.monotonic()
            results = train.train_and_evaluate(config, workdir)  # a bar, or lines every N s
            logger.info(f"{tag}: {train.result_line(results, workdir)}")
            trained.append(time.monotonic() - row_start)
            keras.utils.clear_session()  # a table's runs share this process: drop old graphs
        else:
            logger.info(f"{tag}: already finished, skipped")
        for mode in getattr(module, "EVAL_MODES", ()):  # the paper's test protocols
            if not os.path.exists(os.path.join(workdir, f"eval_{mode}.json")):
                logger.info(f"{tag}: evaluating {mode}")
                logger.info(f"{tag}: {evaluate.result_line(evaluate.evaluate(workdir, mode))}")
        runs[name].append(report.read_run(workdir))

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.table)
    curves = {}
    every_s = overrides.apply(module.get_config(models[0]), args.overrides).progress_every_s
    figure7 = progress.Progress(
        "Figure 7 layer responses", len(workdirs), unit="models", every_s=every_s
    )
    for name, workdir in workdirs.items():
        model = keras.models.load_model(os.path.join(workdir, "model.keras"), safe_mode=True)
        images = analysis.test_images(workdir, args.num_images)
        curves[name] = analysis.layer_responses(model, images)
        figure7.add()
    analysis.plot_responses(curves, f"{base}_responses.png", "Figure 7: std of 3x3 layer responses")
    command = "python -m experiments.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    report.write(module, args.table, runs, args.out, command, figures=("responses",))
    differ = comparable.differences(
        getattr(module, "PAPER_SETTING", None), [r for done in runs.values() for r in done]
    )
    if module.PAPER and differ:  # the report says so too; this is for the one reading the log
        logger.warning(
            f"{args.table}: not the paper's setting ({'; '.join(differ)}): the report heads the "
            "paper's columns 'paper (different setting)'"
        )
    print(f"wrote {base}.md, {base}_curves.png and {base}_responses.png", flush=True)
    return 0


def main():
    startup.quiet_tensorflow()
    sys.exit(cli.run_cli(run, None, True))


if __name__ == "__main__":
    main()
