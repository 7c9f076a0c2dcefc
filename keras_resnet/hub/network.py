"""The one offline switch, KERAS_RESNET_OFFLINE, and a quick "is the host there" check.

Both the weight downloads and the TFDS datasets read them: with the switch set nothing touches
the network and a missing file fails at once; without it, a dataset's host is tried once with a
short timeout before TFDS spends minutes in its own retries.
"""

from __future__ import annotations

import os
import socket
import urllib.parse

OFFLINE_ENV = "KERAS_RESNET_OFFLINE"
# Long enough for a slow link, short enough that an air-gapped machine answers in seconds.
REACH_TIMEOUT_S = 3.0


def offline() -> bool:
    """True when KERAS_RESNET_OFFLINE is set to 1 / true / yes."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def reachable(url: str, timeout: float = REACH_TIMEOUT_S) -> bool:
    """Whether a TCP connection to `url`'s host and port opens within `timeout` seconds."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False
