"""The server's log: Python `logging` with a timestamp, level and source on every line, and the
devices it runs on at start-up.

Modules log through `logging.getLogger(__name__)`; only the server's command line installs a
handler (`configure`), so a program that embeds the server keeps its own logging setup. Prints
remain only for a one-line user error and a command's final result.
"""

from __future__ import annotations

import logging
import os
import platform
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
    for name in (__package__, "aiohttp", "grpc"):
        target = logging.getLogger(name)
        target.handlers[:] = [handler]
        target.setLevel(level.upper())
        target.propagate = False  # absl or TensorFlow may configure the root logger too


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what the platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what a container's cpuset allows, not the host's
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def gpu_names() -> list[str]:
    """Each visible GPU's name as TensorFlow sees it (e.g. "NVIDIA H200"); [] on CPU-only."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (ValueError, RuntimeError):
            details = {}
        names.append(details.get("device_name") or gpu.name)
    return names


def log_devices() -> None:
    """One line for the CPU, one per GPU: which hardware this server will actually run on."""
    logger.info("CPU: %s, %d usable cores", cpu_model(), usable_cpus())
    gpus = gpu_names()
    for index, name in enumerate(gpus):
        logger.info("GPU %d: %s", index, name)
    if not gpus:
        logger.info("GPU: none visible to TensorFlow; running on the CPU")
