"""The package's error types and its exit-code table, in a module of their own so that any layer
can raise them without importing the command-line plumbing that reports them
(keras_resnet.cli.common.run_cli).

A `UserError` is a mistake in what the user asked for (an unknown model, a dataset that cannot be
had, a workdir holding another run): the CLIs print it as one line, without a traceback, and exit
with `USER_ERROR_EXIT`. A `Transient` error is one that a rerun of the same command may not meet
(a lost peer, a storage timeout): one line and `TRANSIENT_EXIT`, which schedulers retry. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ExitCode:
    code: int
    name: str
    retry: bool  # what a scheduler should do (TFJob's `restartPolicy: ExitCode` rule)
    meaning: str


# Every status the console scripts end with. TFJob's ExitCode policy treats 1-127 as permanent
# and 128-255 as retryable (a signal, or our own 138): keep user errors below 128.
EXIT_CODES = (
    ExitCode(0, "done", False, "the command finished; its results are written"),
    ExitCode(2, "user_error", False, "a user or config error (bad flag, config, TF_CONFIG)"),
    ExitCode(130, "interrupted", False, "Ctrl-C, after a backup; rerun to resume"),
    ExitCode(138, "transient", True, "a lost peer or a storage timeout; retry resumes"),
    ExitCode(143, "sigterm", True, "SIGTERM (preemption), after a backup; retry resumes"),
)
EXIT = {e.name: e.code for e in EXIT_CODES}
USER_ERROR_EXIT = EXIT["user_error"]  # as argparse and absl flags use for bad command lines
TRANSIENT_EXIT = EXIT["transient"]


# TensorFlow's errors for a peer or a bucket that stopped answering (a collective op whose peer
# died, a GCS request that timed out): a retry of the whole job gets past them.
TRANSIENT_TF_ERRORS = ("UnavailableError", "DeadlineExceededError", "AbortedError")


def is_transient(error: BaseException) -> bool:
    """True for Transient, TimeoutError and TRANSIENT_TF_ERRORS (matched by name: this module
    imports no TensorFlow)."""
    if isinstance(error, (Transient, TimeoutError)):
        return True
    return type(error).__module__.startswith("tensorflow") and (
        type(error).__name__ in TRANSIENT_TF_ERRORS
    )


class UserError(Exception):
    """An error in what the user asked for, reported as one line without a traceback."""


class Transient(Exception):
    """A failure a retry of the same command can get past: reported as one line, exit 138."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or Ctrl-C, handled (keras_resnet.training.interrupts): one line, exit 128 + signal.

    A KeyboardInterrupt, not an Exception, so that no `except Exception` on the way swallows
    it, as Python does for Ctrl-C itself. `exit_code` may instead be TRANSIENT_EXIT: a worker
    that stopped because a peer was signalled."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class MissingExtra(UserError):
    """A feature whose optional dependencies (a pyproject.toml extra) are not installed: one line
    that names the extra and how to add it (keras_resnet.cli.extras checks for them)."""

    def __init__(self, extra: str, absent: list[str] | tuple[str, ...], otherwise: str = ""):
        self.extra = extra
        super().__init__(
            f"needs the '{extra}' extra ({', '.join(absent)} not installed): "
            f'pip install "keras_resnet[{extra}]"' + (f"; or {otherwise}" if otherwise else "")
        )
