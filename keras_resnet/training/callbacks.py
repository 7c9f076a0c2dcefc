"""Callbacks that keep training on the paper's schedule and make it survive a SIGKILL.

The optimizer's iteration counter is the one clock: BackupAndRestore restores it with the
weights, the learning rate is a function of it, and epochs end when it crosses a multiple of
`steps_per_epoch`. A run killed in the middle of an epoch therefore finishes that same epoch
after the restart, with exactly the steps it had left: no epoch is run twice, none is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import keras

from keras_resnet.errors import UserError
from keras_resnet.storage import atomic, faults, files
from keras_resnet.training import backups
from keras_resnet.training import workdir as wd
from keras_resnet.training.backups import optimizer_step

logger = logging.getLogger(__name__)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class NanGuard(keras.callbacks.Callback):
    """Stops at the first non-finite loss, before any later callback can back the bad weights
    up: it must come first in the callback list. Raising (rather than `stop_training`) also
    skips `on_train_end`, so the last good backup and checkpoints stay as they are."""

    def __init__(self, checkpoint_hint: str):
        super().__init__()
        self.checkpoint_hint = checkpoint_hint

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            step = optimizer_step(self.model)
            raise TrainingDiverged(
                f"loss became {loss} at step {step}; training stopped and the last good "
                f"checkpoint is kept in {self.checkpoint_hint}. Lower learning_rate or enable "
                "warm-up, in a new workdir."
            )


class ResumableBackup(keras.callbacks.Callback):
    """Step-level backups that resume inside an epoch (storage: keras_resnet.training.backups).

    Keras' BackupAndRestore restores only an epoch number, so a run killed mid-epoch would run
    that epoch's steps again, and it writes its files in place (see backups.py). Here:
    - `restore()` runs before `fit` and returns the epoch to start in, from the restored
      iteration counter; `fit(initial_epoch=...)` then resumes inside that epoch.
    - Saves happen every `save_freq` optimizer steps and at each epoch end. This callback goes
      after the recorder in the list, so an epoch's metrics row is on disk before the backup
      that includes the epoch: a kill between the two only repeats the row. A save is never
      made at an epoch's last step before the epoch ends (its row would then be lost).
    - `save_now()` is for SIGTERM / Ctrl-C (keras_resnet.training.interrupts).
    - The backup outlives `fit`; `train_and_evaluate` deletes it once results are on disk.
    """

    def __init__(self, backup_dir: str, save_freq: int, steps_per_epoch: int, total_steps: int):
        super().__init__()
        if int(save_freq) < 1:
            raise ValueError(f"backup_every_steps must be a positive integer, got {save_freq!r}.")
        self.backup_dir, self.save_freq = backup_dir, int(save_freq)
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.store = backups.BackupStore(backup_dir)
        self.step = self.saved_step = None

    def restore(self, model, consensus=None) -> int:
        """Loads the newest good backup into `model`, if any; returns the epoch to resume in.

        With several workers (`consensus`: keras_resnet.training.distribute.worker_consensus)
        all resume at the oldest step any of them restored: a kill can land after one worker
        committed a generation and before another did, and both keep the one before."""
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        fresh = [v.numpy() for v in model.weights + model.optimizer.variables]
        step = self.store.restore(model)
        if consensus is not None and (agreed := consensus(step)[0]) != step:
            logger.warning(f"another worker backed up only step {agreed}; resuming there")
            if agreed == 0:  # a peer has no backup: start over, from the same initial weights
                for v, value in zip(model.weights + model.optimizer.variables, fresh):
                    v.assign(value)
                step = 0
            else:
                step = self.store.restore(model, at_most=agreed)
            if step != agreed:
                raise UserError(
                    f"this worker has no backup of step {agreed}, which another worker resumes "
                    f"from ({self.store.describe()}); move the workdir away to start over."
                )
        self.saved_step = step
        if step >= self.total_steps:
            return math.ceil(self.total_steps / self.steps_per_epoch)
        return step // self.steps_per_epoch

    def on_train_begin(self, logs=None):
        self.step = optimizer_step(self.model)  # restore() already ran

    def at_epoch_end(self) -> bool:
        return self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.save_freq == 0 and not self.at_epoch_end():
            self.save_now()
        faults.point("step")

    def on_epoch_end(self, epoch, logs=None):
        self.save_now()

    def save_now(self) -> None:
        if self.saved_step != self.step:
            self.store.save(self.model, self.step)
            self.saved_step = self.step


class _StepCounter(keras.callbacks.Callback):
    """Reads the (restored) iteration counter once, then counts batches in Python."""

    def on_train_begin(self, logs=None):
        self.step = optimizer_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1


class EpochClock(_StepCounter):
    """Ends epoch e when the iteration counter reaches (e + 1) * steps_per_epoch, and the run
    at `total_steps`. After a mid-epoch restart, the resumed epoch is cut short accordingly."""

    def __init__(self, steps_per_epoch: int, total_steps: int):
        super().__init__()
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_end = min((epoch + 1) * self.steps_per_epoch, self.total_steps)
        if self.step >= self.epoch_end:  # nothing left in this epoch (restored at its end)
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step >= self.epoch_end:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        # stop_training only ended the epoch's batch loop; keep going unless the run is over.
        self.model.stop_training = self.step >= self.total_steps


def step_factor(step: int, total_steps: int, boundaries, decay: float) -> float:
    """Step schedule: `decay` ** (number of boundaries, as fractions of the run, passed)."""
    passed = sum(step >= round(b * total_steps) for b in boundaries)
    return decay**passed


def plateau_reductions(val_errors, patience: int, min_delta: float) -> int:
    """How many times "divide by 10 when the error plateaus" (Section 3.4) has fired after
    these per-epoch validation errors: each time `patience` epochs pass without beating the
    best by `min_delta`; the count starts again after each reduction."""
    best, wait, reductions = math.inf, 0, 0
    for err in val_errors:
        if err < best - min_delta:
            best, wait = err, 0
        else:
            wait += 1
            if wait >= patience:
                reductions, wait = reductions + 1, 0
    return reductions


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The learning-rate schedule's own fields of a run's config (base.py documents each):
    `LearningRate` is given these, not the whole config."""

    lr_schedule: str = "step"  # or "plateau"
    lr_boundaries: tuple[float, ...] = (0.5, 0.75)
    lr_decay: float = 0.1
    plateau_patience: int = 5
    plateau_min_delta: float = 0.1
    warmup: str = "none"  # or "until_error", "linear"
    warmup_lr: float = 0.01
    warmup_error: float = 80.0
    warmup_epochs: int = 5

    @classmethod
    def of(cls, config) -> Schedule:
        fields = {f.name: config[f.name] for f in dataclasses.fields(cls)}
        fields["lr_boundaries"] = tuple(float(b) for b in config.lr_boundaries)
        return cls(**fields)


class LearningRate(_StepCounter):
    """Sets the optimizer's learning rate before every step from the config's schedule.

    - step: divide by 10 at fractions of the run (32k/48k of 64k; epochs 30/60 of 90).
    - plateau: divide by 10 when the validation error stalls, replayed from metrics.csv rows
      on a restart so that a resumed run has the same rate.
    - warm-up "until_error" (Section 4.2): warmup_lr until the running training error of the
      epoch falls below warmup_error, the step saved in schedule_state.json; "linear" ramps
      up over warmup_epochs, for large batches.
    """

    def __init__(
        self, schedule: Schedule, base_lr, steps_per_epoch, total_steps, workdir, initial_epoch=0
    ):
        super().__init__()
        self.c, self.base_lr, self.workdir = schedule, base_lr, workdir
        self.initial_epoch = initial_epoch
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.state_path = files.join(workdir, wd.SCHEDULE_STATE)
        self.current = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.warmup_end = atomic.read_json(self.state_path, {}).get("warmup_end_step")
        rows = wd.read_metrics(self.workdir)  # epochs completed before this (re)start:
        done = [r for r in rows if int(r["epoch"]) <= self.initial_epoch]
        self.val_errors = [float(r["val_top1_error"]) for r in done if r["val_top1_error"]]

    def rate(self) -> float:
        c = self.c
        if c.warmup == "until_error" and self.warmup_end is None:
            return float(c.warmup_lr)
        lr = self.base_lr
        if c.warmup == "linear":
            lr *= min(1.0, (self.step + 1) / max(1, c.warmup_epochs * self.steps_per_epoch))
        if c.lr_schedule == "plateau":
            n = plateau_reductions(self.val_errors, c.plateau_patience, c.plateau_min_delta)
            return lr * c.lr_decay**n
        return lr * step_factor(self.step, self.total_steps, c.lr_boundaries, c.lr_decay)

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.rate()
        if lr != self.current:  # a variable write only when the rate changes
            self.model.optimizer.learning_rate = lr
            self.current = lr

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.c.warmup == "until_error" and self.warmup_end is None and logs:
            error = 100.0 * (1.0 - float(logs.get("top1", 0.0)))
            if error < self.c.warmup_error:
                self.warmup_end = self.step
                atomic.atomic_write_json(self.state_path, {"warmup_end_step": self.step})
                logger.info(f"warm-up done at step {self.step} (train error {error:.1f}%)")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            if "val_top1" in logs:
                self.val_errors.append(100.0 * (1.0 - float(logs["val_top1"])))
            logs["learning_rate"] = float(self.current if self.current is not None else 0.0)
