"""Per-epoch records: metrics.csv, the best and last checkpoints, and progress lines with ETA.

Progress is logged (keras_resnet.cli.startup sets up the log) once per epoch and, when stdout
is not a terminal (CI, nohup, Kubernetes: no Keras progress bar), also at least every
`progress_every_s` seconds: step, running loss, images/s since the last line, ETA; and during
validation, the batches done.

On a restart, rows of epochs that the restored backup had not finished are dropped before
training goes on, so metrics.csv never holds an epoch twice nor skips one.
"""

from __future__ import annotations

import logging
import math
import statistics
import time

import keras

from keras_resnet import progress
from keras_resnet.storage import files
from keras_resnet.training import workdir as wd
from keras_resnet.training.backups import optimizer_step

FIELDS = [
    "epoch",
    "step",
    "loss",
    "top1_error",
    "top5_error",
    "val_loss",
    "val_top1_error",
    "val_top5_error",
    "learning_rate",
    "images_per_sec",
    "epoch_time_s",
]


def _error(logs, key):
    return round(100.0 * (1.0 - float(logs[key])), 4) if key in logs else ""


def median_images_per_sec(rows) -> float:
    """Median over epochs: robust to the first epoch's graph tracing and XLA compilation."""
    rates = [float(r["images_per_sec"]) for r in rows if r.get("images_per_sec") not in ("", None)]
    return round(statistics.median(rates), 1) if rates else 0.0


class EpochRecorder(keras.callbacks.Callback):
    """Writes metrics.csv and checkpoints/{last,best}.keras (atomically) after every epoch,
    and logs one line per epoch with the errors, images/s and the run's ETA; with
    `progress_every_s` > 0 and no terminal on stdout (`terminal=None`: stdout's), also a line at
    least that often within an epoch.

    best.keras is chosen on the validation error only when there is a validation split
    (`select_best`): without one, the per-epoch "val" numbers are the test set's, and picking
    a checkpoint on them would be test-set selection, so only last.keras is written."""

    def __init__(
        self,
        workdir,
        *,
        epochs,
        total_steps,
        global_batch,
        initial_epoch=0,
        log=None,
        select_best=True,
        progress_every_s=0.0,
        terminal=None,
    ):
        super().__init__()
        terminal = progress.stdout_is_terminal() if terminal is None else terminal
        self.progress_every_s = 0.0 if terminal else float(progress_every_s)  # a bar shows it
        self.select_best = select_best
        self.initial_epoch = initial_epoch
        self.workdir, self.epochs, self.total_steps = workdir, epochs, total_steps
        self.global_batch = global_batch
        self.log = log or logging.getLogger(__name__).info
        self.checkpoints = files.join(workdir, wd.CHECKPOINTS)

    def on_train_begin(self, logs=None):
        done = self.initial_epoch  # epochs completed before this (re)start
        self.rows = [r for r in wd.read_metrics(self.workdir) if int(r["epoch"]) <= done]
        wd.write_metrics(self.workdir, self.rows, FIELDS)
        errors = [float(r["val_top1_error"]) for r in self.rows if r["val_top1_error"] != ""]
        self.best = min(errors, default=math.inf)
        self.step = self.start_step = optimizer_step(self.model)
        self.start_time = time.time()
        self.throttle = progress.Throttle(self.progress_every_s)
        files.makedirs(self.checkpoints)
        if self.step:
            where = f"epoch {done + 1}/{self.epochs}" if done < self.epochs else "training done"
            self.log(f"resuming at step {self.step} ({where})")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.last_batch = time.time()
        self.epoch_first_step = self.step
        self.epoch = epoch
        self.window = (self.epoch_start, self.step)  # images/s of a progress line: since here

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.last_batch = time.time()
        if self.throttle.due():
            self.log(self._progress_line(logs or {}))

    def on_test_begin(self, logs=None):
        self.val_batches = 0

    def on_test_batch_end(self, batch, logs=None):
        self.val_batches += 1  # validation inside fit: a long one gets lines too
        if self.throttle.due():
            elapsed, eta = self._elapsed_and_eta()
            self.log(
                f"epoch {self.epoch + 1}/{self.epochs} validating: batch {self.val_batches} | "
                f"elapsed {progress.duration(elapsed)} ETA {progress.duration(eta)}"
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        steps = self.step - self.epoch_first_step
        train_time = self.last_batch - self.epoch_start
        row = {
            "epoch": epoch + 1,
            "step": self.step,
            "loss": round(float(logs.get("loss", math.nan)), 6),
            "top1_error": _error(logs, "top1"),
            "top5_error": _error(logs, "top5"),
            "val_loss": round(float(logs["val_loss"]), 6) if "val_loss" in logs else "",
            "val_top1_error": _error(logs, "val_top1"),
            "val_top5_error": _error(logs, "val_top5"),
            "learning_rate": logs.get("learning_rate", ""),
            "images_per_sec": round(steps * self.global_batch / train_time, 1) if steps else "",
            "epoch_time_s": round(time.time() - self.epoch_start, 2),
        }
        self.rows.append(row)
        wd.write_metrics(self.workdir, self.rows, FIELDS)
        last = files.join(self.checkpoints, "last.keras")
        wd.save_model_atomic(self.model, last, fault="checkpoint")
        if self.select_best and row["val_top1_error"] != "" and row["val_top1_error"] < self.best:
            self.best = row["val_top1_error"]
            best = files.join(self.checkpoints, "best.keras")
            wd.save_model_atomic(self.model, best, fault="checkpoint")
        self.log(self._line(row))

    def _elapsed_and_eta(self) -> tuple[float, float]:
        """Since this (re)start; the ETA assumes the rest runs at the average pace so far,
        validation and checkpoints included."""
        elapsed = time.time() - self.start_time
        done = self.step - self.start_step
        eta = elapsed / done * (self.total_steps - self.step) if done else math.nan
        return elapsed, eta

    def _progress_line(self, logs) -> str:
        now, (since, first_step) = time.time(), self.window
        self.window = (now, self.step)
        rate = (self.step - first_step) * self.global_batch / max(now - since, 1e-9)
        elapsed, eta = self._elapsed_and_eta()
        loss = f"loss {float(logs['loss']):.4f} | " if "loss" in logs else ""
        return (
            f"epoch {self.epoch + 1}/{self.epochs} step {self.step}/{self.total_steps} | "
            f"{loss}{rate:.0f} img/s | elapsed {progress.duration(elapsed)} "
            f"ETA {progress.duration(eta)}"
        )

    def _line(self, row) -> str:
        elapsed, eta = self._elapsed_and_eta()
        val = (
            f" | val top-1 err {row['val_top1_error']:.2f}%" if row["val_top1_error"] != "" else ""
        )
        rate = f" | {row['images_per_sec']:.0f} img/s" if row["images_per_sec"] != "" else ""
        return (
            f"epoch {row['epoch']}/{self.epochs} step {self.step}/{self.total_steps} | "
            f"loss {row['loss']:.4f} | top-1 err {row['top1_error']:.2f}%{val} | "
            f"lr {float(row['learning_rate'] or 0):.4g}{rate} | "
            f"elapsed {progress.duration(elapsed)} ETA {progress.duration(eta)}"
        )
