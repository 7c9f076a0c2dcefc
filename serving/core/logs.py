"""The server's log: Python `logging` with a timestamp, level and source on every line, and the
devices it runs on at start-up (described by keras_resnet.machine).

Modules log through `logging.getLogger(__name__)`; only the server's command line installs a
handler (`configure`), so a program that embeds the server keeps its own logging setup. Prints
remain only for a one-line user error and a command's final result.
"""

from __future__ import annotations

import logging
import sys

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s:%(lineno)d] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

logger = logging.getLogger(__name__)


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is at each record, not as it was when configured (a test
    harness, or a supervisor that redirects it, may swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure(level: str = "info") -> None:
    """Sends the server's records (this package's, aiohttp's and grpc's loggers) to stderr."""
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    # The whole serving package, core and tools (client, demo), plus the libraries it sits on.
    for name in (__package__.rpartition(".")[0], "aiohttp", "grpc"):
        target = logging.getLogger(name)
        target.handlers[:] = [handler]
        target.setLevel(level.upper())
        target.propagate = False  # absl or TensorFlow may configure the root logger too


def log_devices() -> None:
    """Which hardware this server runs on: keras_resnet.machine's description, the one
    training, the benchmark and the reports use (a stdlib-only module: no model code)."""
    from keras_resnet import machine

    machine.log_devices(force=True, frameworks=("tensorflow",), log=logger)
