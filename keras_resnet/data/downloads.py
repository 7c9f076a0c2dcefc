"""Why a TFDS `download_and_prepare` failed, told to the user in one line.

TFDS raises whatever its downloader, extractor or builder raised, so the reason has to be read
off the exception chain. Three causes need different advice: no connection (prepare the data
elsewhere, or use the offline `digits`), a module TFDS needs that is not installed (our install
is broken, `make install` repairs it), and anything else (disk, permissions, a corrupt archive),
reported with its own message.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.parse


def _chain(exc: BaseException):
    """`exc` and every exception it was raised from or while handling, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _connection_types() -> tuple[type[BaseException], ...]:
    # Only failures to reach the host at all: DNS, refused, unreachable, connect timeout. An
    # HTTP error status or a dropped transfer means the network is there, so they do not count.
    types: list[type[BaseException]] = [socket.gaierror, ConnectionRefusedError]
    try:  # urllib3 and requests come with TFDS; imported here so that a bare install still works
        from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

        types += [NewConnectionError, ConnectTimeoutError]  # NameResolutionError is a subclass
    except ImportError:
        pass
    return tuple(types)


def _host(exc: BaseException) -> str | None:
    """The host `exc` names: requests' `.request.url`, urllib3's `.conn.host` or `.pool.host`."""
    url = getattr(getattr(exc, "request", None), "url", None)
    if isinstance(url, str) and urllib.parse.urlsplit(url).hostname:
        return urllib.parse.urlsplit(url).hostname
    for holder in ("conn", "pool"):
        host = getattr(getattr(exc, holder, None), "host", None)
        if isinstance(host, str) and host:
            return host
    return None


def connection_failure(exc: BaseException) -> tuple[bool, str | None]:
    """(whether `exc` comes from failing to connect, the host it could not reach if known)."""
    types = _connection_types()
    chain = list(_chain(exc))
    failed = any(
        isinstance(e, types)
        or (isinstance(e, urllib.error.URLError) and isinstance(e.reason, types))
        for e in chain
    )
    host = next((h for h in map(_host, chain) if h), None)
    return failed, host


def missing_module(exc: BaseException) -> str | None:
    """The name of the module whose import failed somewhere in `exc`'s chain, if any."""
    for e in _chain(exc):
        if isinstance(e, ImportError):
            return e.name or str(e)
    return None


def tfds_failure_message(name: str, data_dir: str, exc: BaseException) -> str:
    """One line saying why TFDS could not prepare dataset `name` in `data_dir`, and what to do."""
    offline, host = connection_failure(exc)
    if offline:
        where = f" (cannot reach {host})" if host else ""
        return (
            f"cannot download {name!r}: no internet connection{where}. Prepare it with TFDS on a "
            "machine that has one and pass that data_dir as --config.data.data_dir, or use "
            "DATASET=digits (offline)."
        )
    module = missing_module(exc)
    if module:
        return (
            f"TFDS cannot prepare {name!r}: it needs the module {module!r}, which is not "
            "installed; reinstall the pinned requirements (make install)."
        )
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return (
        f"cannot prepare {name!r} with TFDS in {data_dir} ({type(exc).__name__}: {reason}); "
        "prepare it where there is internet and pass --config.data.data_dir, or use "
        "DATASET=digits (offline)."
    )
