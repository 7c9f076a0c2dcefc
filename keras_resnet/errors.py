"""The package's error types, in a module of their own so that any layer can raise them without
importing the command-line plumbing that reports them (keras_resnet.cli.common.run_cli).

A `UserError` is a mistake in what the user asked for (an unknown model, a dataset that cannot be
had, a workdir holding another run): the CLIs print it as one line, without a traceback, and exit
with `USER_ERROR_EXIT`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

# Exit status for a user error, as argparse and absl flags use for bad command lines.
USER_ERROR_EXIT = 2


class UserError(Exception):
    """An error in what the user asked for, reported as one line without a traceback."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or Ctrl-C, handled (keras_resnet.training.interrupts): one line, exit 128 + signal.

    A KeyboardInterrupt, not an Exception, so that no `except Exception` on the way swallows
    it, as Python does for Ctrl-C itself."""

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
