"""An experiment table on any Keras backend, from arrays: for GPU machines without TensorFlow.

    python -m experiments.portable digits_degradation --data=digits.npz --out=DIR --runs=3

`experiments.run` trains through keras_resnet's TensorFlow pipeline. The GPU machines this
project borrows have JAX and PyTorch but no TensorFlow build for their CUDA, so this trains the
same models (`create_model`) with the same recipe numbers (the table's `get_config`: lr and its
linear batch scaling, momentum, coupled weight decay, step schedule, epochs, batch) on Keras' JAX
backend, from the arrays that `keras_resnet.data.sources` makes (saved with `--save_data` on a
machine with TensorFlow). The input pipeline is re-stated in NumPy: the per-pixel training mean
subtracted from [0, 1] pixels, 4-pixel zero padding after it, a random crop, flips only where
the source allows them (Section 4.2), whole batches only, a fresh order each epoch.

Each run writes `metrics.csv` and `results.json` in the workdir layout that `experiments.report`
reads, so the report is made by the same code as the TensorFlow runs' (`--report`).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import logging
import os
import shlex
import sys
import time

import keras
import numpy as np

from keras_resnet.configs import overrides
from keras_resnet.configs.base import CHOICES, base_learning_rate
from keras_resnet.errors import UserError
from keras_resnet.models.resnet import create_model

logger = logging.getLogger(__name__)
FIELDS = ("epoch", "step", "loss", "top1_error", "top5_error", "val_top1_error", "images_per_sec")


def augment(images, mean, rng, *, pad=4, flip=False):
    """One epoch's training views (Section 4.2): mean-subtracted, zero-padded, randomly cropped."""
    x = images.astype(np.float32) / 255.0 - mean
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    top, left = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
    rows = top[:, None] + np.arange(h)
    cols = left[:, None] + np.arange(w)
    x = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if flip:
        mirror = rng.random(n) < 0.5
        x[mirror] = x[mirror, :, ::-1]
    return x


def schedule(config, total_steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """The config's step schedule: base lr (scaled with the batch), times `lr_decay` at each
    boundary, as `keras_resnet.training.callbacks.step_factor` computes it per step."""
    lr = base_learning_rate(config)
    # step_factor decays from step round(b * total) on; PiecewiseConstantDecay decays at steps
    # *after* a boundary, hence the - 1.
    bounds = [round(b * total_steps) - 1 for b in config.lr_boundaries]
    values = [lr * config.lr_decay**i for i in range(len(bounds) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values)


def _compiled(config, num_classes: int, total_steps: int, seed: int) -> keras.Model:
    """The table's model initialised for `seed` and compiled once: later seeds reuse its
    compiled step (`_reset`)."""
    net = _build(config, num_classes, seed)
    net.compile(
        optimizer=keras.optimizers.SGD(schedule(config, total_steps), momentum=config.momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"),
        ],
        jit_compile=True,
    )
    return net


def _build(config, num_classes: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)  # the initial weights: the paper's He init, per seed
    return create_model(
        config.model,
        num_classes=num_classes,
        shortcut=config.shortcut,
        variant=config.variant,
        weight_decay=config.weight_decay,
    )


def _reset(net: keras.Model, config, num_classes: int, seed: int) -> None:
    """A fresh run in an already compiled model: new initial weights, zeroed optimizer state
    (momentum buffers and the iteration count that drives the schedule)."""
    net.set_weights(_build(config, num_classes, seed).get_weights())
    for v in net.optimizer.variables:
        v.assign(np.zeros(v.shape, v.dtype))


def train_run(net, config, data: dict, workdir: str, seed: int) -> dict:
    """One seed of one model: trains `config.num_epochs` epochs of whole batches, writing
    metrics.csv, then results.json with the test errors (the report's finished-run mark)."""
    x_tr, y_tr = data["x_train"], data["y_train"]
    mean = x_tr.astype(np.float32).mean(axis=0) / 255.0  # per-pixel mean, all training images
    x_te = data["x_test"].astype(np.float32) / 255.0 - mean
    steps = len(x_tr) // config.batch_size  # whole batches, as the TensorFlow pipeline
    rng = np.random.default_rng(seed)
    os.makedirs(workdir, exist_ok=True)
    rows, rates, started = [], [], time.monotonic()
    for epoch in range(config.num_epochs):
        order = rng.permutation(len(x_tr))[: steps * config.batch_size]
        x = augment(x_tr[order], mean, rng, flip=bool(data["flip"]))
        t0 = time.monotonic()
        logs = net.fit(
            x,
            y_tr[order],
            batch_size=config.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            validation_data=(x_te, data["y_test"]),
        ).history
        rates.append(steps * config.batch_size / (time.monotonic() - t0))
        rows.append(
            {
                "epoch": epoch + 1,
                "step": (epoch + 1) * steps,
                "loss": logs["loss"][-1],
                "top1_error": 100 * (1 - logs["top1"][-1]),
                "top5_error": 100 * (1 - logs["top5"][-1]),
                "val_top1_error": 100 * (1 - logs["val_top1"][-1]),
                "images_per_sec": rates[-1],
            }
        )
    with open(os.path.join(workdir, "metrics.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    test = net.evaluate(x_te, data["y_test"], verbose=0, return_dict=True)
    results = {
        "model": config.model,
        "dataset": config.dataset,  # the report labels what it compares (experiments.comparable)
        "test_images": len(x_te),
        "seed": seed,
        "steps": steps * config.num_epochs,
        "top1_error": 100 * (1 - test["top1"]),
        "top5_error": 100 * (1 - test["top5"]),
        # The first epoch includes XLA compilation: the median is the steady rate.
        "images_per_sec": float(np.median(rates)),
        "train_time_s": time.monotonic() - started,
        "backend": keras.backend.backend(),
    }
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=1)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return results


def check(config) -> None:
    """This harness has the step schedule in float32 only: a config asking for a warm-up, the
    plateau schedule or mixed precision is refused rather than silently trained without it."""
    asked = {key: config[key] for key in ("warmup", "lr_schedule", "precision")}
    unsupported = {k: v for k, v in asked.items() if v != CHOICES[k][0]}
    if unsupported:
        key, value = next(iter(unsupported.items()))
        raise UserError(
            f"experiments.portable trains without {key}={value!r}; use experiments.run (the "
            f"TensorFlow path) for it, or set --config.{key}={CHOICES[key][0]}."
        )


def run_table(module, models, overrides_, data_path, root, *, runs, budget_s) -> None:
    """Seed-major (every model's seed 0, then seed 1, ...), so a run cut short by `budget_s`
    still compares every model; finished runs are skipped on a rerun."""
    data = dict(np.load(data_path, allow_pickle=False))
    num_classes = int(data["y_train"].max()) + 1
    deadline = time.monotonic() + budget_s
    nets = {}
    for r in range(runs):
        for name in models:
            config = overrides.apply(module.get_config(name), overrides_)
            check(config)
            seed = config.seed + r
            workdir = os.path.join(root, f"{name}-seed{seed}")
            if os.path.exists(os.path.join(workdir, "results.json")):
                continue
            if time.monotonic() > deadline:
                logger.info("%s seed %d: skipped, the time budget is spent", name, seed)
                continue
            total = len(data["x_train"]) // config.batch_size * config.num_epochs
            if name in nets:
                _reset(nets[name], config, num_classes, seed)
            else:
                nets[name] = _compiled(config, num_classes, total, seed)
            res = train_run(nets[name], config, data, workdir, seed)
            logger.info("%s seed %d: %s", name, seed, json.dumps(res))


def write_report(module, table, models, root, out, hardware, command) -> str:
    """The report of the runs under `root`, by experiments.report, as experiments.run writes it
    (without Figure 7, which needs the TensorFlow pipeline)."""
    from experiments import report

    runs = {}
    for name in models:
        dirs = sorted(d for d in os.listdir(root) if d.startswith(f"{name}-seed"))
        runs[name] = [r for r in (report.read_run(os.path.join(root, d)) for d in dirs) if r]
    return report.write(module, table, runs, out, command, hardware=hardware)


def save_data(dataset: str, path: str) -> None:
    """Writes a source's images as arrays (needs TensorFlow: run it where `make install` ran)."""
    from keras_resnet.data import sources

    source = sources.load_source(dataset, model_style=sources.SMALL, model_classes=10)
    arrays = {}
    for split, ds in (("train", source.train), ("test", source.test)):
        images, labels = zip(*ds.as_numpy_iterator())
        arrays[f"x_{split}"], arrays[f"y_{split}"] = np.stack(images), np.array(labels)
    np.savez_compressed(path, flip=source.flip, **arrays)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="an experiments module, e.g. digits_degradation")
    parser.add_argument("--data", required=True, help=".npz of x_train, y_train, x_test, ...")
    parser.add_argument("--save_data", default="", help="write --data from this dataset, exit")
    parser.add_argument("--models", default="", help="comma-separated subset of the table's")
    parser.add_argument("--workdir_root", default="runs/portable")
    parser.add_argument("--runs", type=int, default=1, help="train each row N times, one seed each")
    parser.add_argument("--budget_s", type=float, default=float("inf"), help="start no run after")
    parser.add_argument("--report", default="", help="write the report of the runs to this folder")
    parser.add_argument("--hardware", default="", help="the report's hardware line")
    parser.add_argument("--command", default="", help="the report's command (default: this one)")
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.save_data:
        save_data(args.save_data, args.data)
        return 0
    module = importlib.import_module(f"experiments.{args.table}")
    models = [m for m in args.models.split(",") if m] or list(module.MODELS)
    if args.report:
        command = args.command or "python -m experiments.portable " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        hardware = args.hardware or None
        print(
            write_report(
                module, args.table, models, args.workdir_root, args.report, hardware, command
            )
        )
        return 0
    run_table(
        module, models, rest, args.data, args.workdir_root, runs=args.runs, budget_s=args.budget_s
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
