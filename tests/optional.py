"""Tests that need a heavy optional extra (torch, jax, the benchmark's peers) skip, with the
reason, where it is not installed: `make install` leaves them out, `make install-all` (and CI,
which must run every test) puts them in."""

from __future__ import annotations

import pytest

from keras_resnet.cli import extras


def _reason(extra: str, missing) -> str:
    return f"needs the '{extra}' extra ({', '.join(missing)} not installed): make install-all"


def needs(extra: str):
    """A mark: skip the test unless every module of `extra` is installed."""
    missing = extras.absent(extra)
    return pytest.mark.skipif(bool(missing), reason=_reason(extra, missing))


def importorskip(module: str, extra: str):
    """`module`, imported; else the test (or, at module level, the file) skips naming `extra`."""
    return pytest.importorskip(module, reason=_reason(extra, [module]))
