"""Progress through long work, where it can be read: a bar on a terminal, log lines elsewhere.

Under CI, `nohup` or Kubernetes stdout is not a terminal, and a progress bar there is either
silent or thousands of carriage returns. There, work reports a log line at most every
`progress_every_s` seconds (keras_resnet/configs/base.py; it is checked as work completes, so
one unit of work longer than that delays a line). On a terminal, Keras' progress bar.
Training's own lines (per step and per epoch) are `keras_resnet.training.recording`'s.
"""

from __future__ import annotations

import logging
import math
import sys
import time

import keras

logger = logging.getLogger(__name__)


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def duration(seconds: float) -> str:
    """`1h02m03s` / `2m03s`; `?` for an unknown (infinite or NaN) duration."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Throttle:
    """`due()` is True at most once every `every_s` seconds (never when every_s <= 0)."""

    def __init__(self, every_s: float, clock=time.monotonic):
        self.every_s, self.clock = float(every_s), clock
        self.last = clock()

    def due(self) -> bool:
        now = self.clock()
        if self.every_s <= 0 or now - self.last < self.every_s:
            return False
        self.last = now
        return True

    def reset(self) -> None:
        self.last = self.clock()


class Progress:
    """Counts `total` units of work (None: unknown) done through `add(n)`.

    On a terminal (`terminal=None`: stdout's), a `keras.utils.Progbar`; otherwise a log line
    `label: done/total unit (pct) | rate unit/s | elapsed ... ETA ...` whenever
    `every_s` seconds have passed, and one when the work is complete."""

    def __init__(self, label, total=None, *, unit="images", every_s=30.0, terminal=None, log=None):
        self.label, self.total, self.unit = label, total, unit
        self.terminal = stdout_is_terminal() if terminal is None else terminal
        self.log = log or logger.info
        self.bar = keras.utils.Progbar(total, unit_name=unit) if self.terminal else None
        self.throttle = Throttle(every_s)
        self.start = time.monotonic()
        self.done = 0

    def add(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(self.done)
        elif self.throttle.due() or (self.total is not None and self.done >= self.total):
            self.log(self.line())

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else math.nan
        if self.total:
            pct = 100.0 * self.done / self.total
            left = (self.total - self.done) / rate if rate > 0 else math.nan
            count = f"{self.done}/{self.total} {self.unit} ({pct:.0f}%)"
            eta = f" ETA {duration(left)}"
        else:
            count, eta = f"{self.done} {self.unit}", ""
        return (
            f"{self.label}: {count} | {rate:.1f} {self.unit}/s | elapsed {duration(elapsed)}{eta}"
        )


class BatchProgress(keras.callbacks.Callback):
    """`Progress` over the batches of a `model.evaluate` or `model.predict`."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def on_test_batch_end(self, batch, logs=None):
        self.progress.add()

    def on_predict_batch_end(self, batch, logs=None):
        self.progress.add()
