"""SIGTERM and Ctrl-C: save a backup, then exit cleanly with 128 + the signal number.

A scheduler's SIGTERM (preemption, `docker stop`, Kubernetes) and a user's Ctrl-C should cost
no training at all, not the up to `backup_every_steps` steps that a SIGKILL costs.

The handler only records the signal: TensorFlow runs a step in C++, and Python runs signal
handlers between bytecodes, so the training loop notices it when the step is over. Then:
- after a step inside an epoch: the backup is saved at that very step, and training stops;
- after an epoch's last step: the epoch's validation, metrics row and epoch-end backup are
  let through first (a backup ahead of its metrics row would lose that row on resume);
- outside `fit` (reading data, the final save and evaluation), or at a second signal: the
  stop is immediate; every write is atomic, and the last backup is where a rerun resumes.
The rerun then resumes from exactly the step the message names.

With several workers (`consensus` set: keras_resnet.training.distribute.worker_consensus) the
workers agree after every step, and at every epoch end, whether any of them was signalled, so
all stop after the same step, each with its backup of it (a worker that stopped alone would
leave the others blocked in the next all-reduce). A worker stopped for a peer's signal exits
with 138 (transient: retry), a signalled one with 128 + the signal.
"""

from __future__ import annotations

import signal
import sys
import threading

import keras

from keras_resnet.errors import TRANSIENT_EXIT, Interrupted

NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}


class GracefulStop(keras.callbacks.Callback):
    """Use as a context manager around training (installs the handlers in the main thread),
    set `backup` to the run's ResumableBackup once there is one, and put this callback in
    `fit`'s callbacks after it."""

    def __init__(self, backup=None):
        super().__init__()
        self.backup = backup
        self.signum = None
        self.in_fit = False
        self.consensus = None  # set by training when there are several workers
        self.stopping = False  # some worker was signalled (agreed with the others)
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # else signal() refuses
            for sig in NAMES:
                self._previous[sig] = signal.signal(sig, self._handle)
            self._unraisable, sys.unraisablehook = sys.unraisablehook, self._unraisablehook
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self._previous:
            sys.unraisablehook = self._unraisable
        self._previous.clear()
        return False

    def _unraisablehook(self, unraisable):
        """A signal can land while Python runs a garbage-collector callback or a finaliser,
        where the handler's exception cannot propagate: Python would print it as "Exception
        ignored" with a traceback and go on. The signal is recorded (`signum`), so training
        stops after its next step, with a backup; say that in one line instead."""
        if not isinstance(unraisable.exc_value, Interrupted):
            return self._unraisable(unraisable)
        print(
            f"{NAMES.get(self.signum, 'a signal')} arrived inside a garbage-collector callback, "
            "where it cannot stop the run at once: training stops after its next step, if any.",
            file=sys.stderr,
        )

    def _handle(self, signum, frame):
        if self.in_fit and self.signum is None:
            self.signum = signum  # acted on after the current step
            return
        self.signum = signum
        raise self._stop(saved=False)

    def _stop(self, saved: bool) -> Interrupted:
        if self.signum is None:  # stopped with the other workers, for their signal
            name, code = "another worker was stopped by a signal", TRANSIENT_EXIT
        else:
            name, code = NAMES[self.signum], 128 + int(self.signum)
        if saved:
            where = f"saved a backup at step {self.backup.saved_step} in {self.backup.backup_dir}"
        else:
            where = f"stopped outside a training step; {self.describe_backup()}"
        return Interrupted(f"{name}: {where}; rerun the same command to resume.", code)

    def _agreed(self) -> bool:
        """Whether any worker was signalled; a collective with several workers."""
        signalled = self.signum is not None
        if self.consensus is not None:
            signalled = self.consensus(int(signalled))[1] > 0
        self.stopping = self.stopping or signalled
        return self.stopping

    def describe_backup(self) -> str:
        return self.backup.store.describe() if self.backup else "no backup written yet"

    def on_train_begin(self, logs=None):
        self.in_fit = True

    def on_train_end(self, logs=None):
        self.in_fit = False
        if self.signum is not None:  # arrived after the last epoch's end: it is backed up
            raise self._stop(saved=False)

    def on_train_batch_end(self, batch, logs=None):
        if self._agreed() and not self.backup.at_epoch_end():
            self.backup.save_now()  # a signal now is only recorded: the save finishes
            self.in_fit = False
            raise self._stop(saved=True)

    def on_epoch_end(self, epoch, logs=None):
        if self._agreed():  # the backup (earlier in the list) saved the epoch's end
            self.in_fit = False
            raise self._stop(saved=True)
