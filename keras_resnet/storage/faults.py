"""Fault injection for the reliability tests, driven by one environment variable.

    KERAS_RESNET_FAULT=POINT:COUNT[:ACTION][,POINT:COUNT[:ACTION]...]

acts the COUNT-th time (1-based, counted in this process) that training reaches POINT:

    step        after an optimizer step (ResumableBackup)
    backup      writing a step-level backup generation (keras_resnet.training.backups)
    checkpoint  writing checkpoints/last.keras or best.keras (the epoch recorder)
    metrics     writing metrics.csv
    model       writing the final model.keras
    results     writing results.json

ACTION is one of:

    kill  (default) SIGKILL this process. At a write point the kill comes after the temporary
          file is written and before it is renamed, and the temporary file is first cut to half
          its size: the state a kill landing in the middle of the write leaves behind.
    term  send SIGTERM to this process (then carry on: the handler decides what happens)
    int   send SIGINT (Ctrl-C)
    fill  (write points only) fill the file system that is about to be written with a ballast
          file, so that the write that follows meets a real ENOSPC from the kernel. Refused on
          file systems over 1 GiB: it is meant for a small tmpfs, never for a real disk.
    timeout  (write points only) raise TimeoutError after the temporary file is written and
          before it is renamed or uploaded: what a bucket that stops answering looks like to
          the writer (keras_resnet.storage.atomic turns it into exit 138, retry).

The points sit in the real code paths so that the tests exercise what users run. Unset, the
variable costs one `is None` test per point.
"""

from __future__ import annotations

import contextlib
import os
import signal

ENV = "KERAS_RESNET_FAULT"
POINTS = ("step", "backup", "checkpoint", "metrics", "model", "results")
ACTIONS = ("kill", "term", "int", "fill", "timeout")
BALLAST = ".fault-ballast"
MAX_FILL_BYTES = 1 << 30


def parse(spec: str) -> dict[str, tuple[int, str]]:
    """'backup:2,step:7:term' -> {'backup': (2, 'kill'), 'step': (7, 'term')}."""
    plan = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        parts = item.split(":")
        if len(parts) not in (2, 3) or parts[0] not in POINTS or not parts[1].isdigit():
            raise ValueError(
                f"{ENV}={spec!r}: each fault is POINT:COUNT[:ACTION] with POINT one of "
                f"{', '.join(POINTS)} and COUNT a positive integer; got {item!r}."
            )
        action = parts[2] if len(parts) == 3 else "kill"
        if action not in ACTIONS or int(parts[1]) < 1:
            raise ValueError(
                f"{ENV}={spec!r}: {item!r} needs COUNT >= 1 and ACTION one of {', '.join(ACTIONS)}."
            )
        plan[parts[0]] = (int(parts[1]), action)
    return plan


# Parsed once: the processes under test get the variable at start-up.
_PLAN = parse(os.environ[ENV]) if os.environ.get(ENV) else None
_seen: dict[str, int] = {}


def _due(name: str) -> str | None:
    """The action to take now at `name`, or None."""
    if name not in _PLAN:
        return None
    _seen[name] = _seen.get(name, 0) + 1
    count, action = _PLAN[name]
    return action if _seen[name] == count else None


def _signal_self(action: str) -> None:
    sig = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}[action]
    os.kill(os.getpid(), sig)


def point(name: str) -> None:
    """A fault point without a file: `step`."""
    if _PLAN is None:
        return
    action = _due(name)
    if action in ("kill", "term", "int"):
        _signal_self(action)


def _fill(directory: str) -> None:
    st = os.statvfs(directory)
    if st.f_blocks * st.f_frsize > MAX_FILL_BYTES:
        raise ValueError(
            f"{ENV}: refusing to fill {directory}, a file system of "
            f"{st.f_blocks * st.f_frsize} bytes (fill is for a tmpfs of at most 1 GiB)."
        )
    # Unbuffered writes: a buffered file would fail again when closed. Big chunks first, then
    # single bytes to top up the last partial block.
    fd = os.open(os.path.join(directory, BALLAST), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1):
            with contextlib.suppress(OSError):  # the file system is full: what was asked for
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(name: str, tmp: str):
    """Wraps the write of temporary file `tmp` (renamed into place after the block)."""
    if _PLAN is None:
        yield
        return
    action = _due(name)
    if action == "fill":
        _fill(os.path.dirname(os.path.abspath(tmp)))
    yield
    if action == "kill" and os.path.exists(tmp):
        os.truncate(tmp, os.path.getsize(tmp) // 2)
    if action in ("kill", "term", "int"):
        _signal_self(action)
    if action == "timeout":
        raise TimeoutError(f"{ENV}: storage timed out writing {os.path.basename(tmp)}")
