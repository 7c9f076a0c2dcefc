"""Fetching a spec's file into the cache: $KERAS_HOME/keras_resnet/weights (~/.keras by default).

- A download streams into a temporary file beside its final name, is hashed on the way, and is
  renamed into place only when its length and hash check out: the cache never holds part of a
  file or a wrong one, and a wrong file is not fetched again in a loop (the error says so).
- The cached source is hashed again only when it is about to be converted, which reads it whole
  anyway; the converted weights are cached under the source's hash (`converted_path`), so a
  second load neither converts nor hashes.
- KERAS_RESNET_OFFLINE=1 never opens a connection: a missing file fails at once, naming the URL,
  the hash and the path to put the file at. KERAS_RESNET_WEIGHTS_MIRROR=BASE_URL fetches every
  file by its name from an organisation's own server instead of the publisher's.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.request

from keras_resnet.errors import UserError
from keras_resnet.hub import network, specs
from keras_resnet.hub.specs import WeightSpec

logger = logging.getLogger(__name__)
MIRROR_ENV = "KERAS_RESNET_WEIGHTS_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 30.0
LOG_EVERY_S = 5.0  # progress lines when stderr is not a terminal


class WeightsUnavailable(UserError):
    """A weights file cannot be had: offline, unreachable, a wrong hash, a cut transfer."""


def cache_dir() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "keras_resnet", "weights")


def cached_path(spec: WeightSpec) -> str:
    return os.path.join(cache_dir(), spec.file_name)


def converted_path(spec: WeightSpec) -> str:
    """Where the converted weights of `spec` are kept: keyed by the source file's hash, so a
    changed registration (another file) never picks up an old conversion."""
    name = f"{spec.model}-{spec.layout}-{spec.file_hash.lower()}.weights.h5"
    return os.path.join(cache_dir(), "converted", name)


def source_url(spec: WeightSpec) -> str:
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{spec.file_name}" if mirror else spec.url


def file_digest(path: str, file_hash: str) -> str:
    h = specs.hasher(file_hash)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_cached(spec: WeightSpec) -> str | None:
    """The cached file if its hash is right; a corrupt one is removed (and logged), so that
    the next fetch downloads it again."""
    path = cached_path(spec)
    if not os.path.exists(path):
        return None
    digest = file_digest(path, spec.file_hash)
    if specs.matches(spec.file_hash, digest):
        return path
    logger.warning(
        f"cached {path} has hash {digest}, expected {spec.file_hash}: removed, fetching again"
    )
    os.remove(path)
    return None


def _offline_message(spec: WeightSpec) -> str:
    return (
        f"{network.OFFLINE_ENV}=1 and weights {spec.tag!r} are not cached: download "
        f"{source_url(spec)} (hash {spec.file_hash}) and put it at {cached_path(spec)}, or unset "
        f"{network.OFFLINE_ENV}."
    )


def check_offline(spec: WeightSpec) -> None:
    """Offline, fails at once (before any model is built) when nothing of `spec` is cached."""
    cached = os.path.exists(converted_path(spec)) or os.path.exists(cached_path(spec))
    if network.offline() and not cached:
        raise WeightsUnavailable(_offline_message(spec))


def fetch(spec: WeightSpec) -> str:
    """The local path of `spec`'s verified file, downloading it if it is not cached."""
    path = verify_cached(spec)
    if path is not None:
        return path
    path, url = cached_path(spec), source_url(spec)
    if network.offline():
        raise WeightsUnavailable(_offline_message(spec))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        digest = _download(url, tmp, spec)
        if not specs.matches(spec.file_hash, digest):
            raise WeightsUnavailable(
                f"{url} has hash {digest}, but weights {spec.tag!r} expect {spec.file_hash}: "
                "nothing was cached; check the URL, the mirror or the registered hash."
            )
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    logger.info(f"weights {spec.tag!r}: {url} verified, cached at {path}")
    return path


def _download(url: str, tmp: str, spec: WeightSpec) -> str:
    """Streams `url` into `tmp`; returns the hex digest of what arrived."""
    h = specs.hasher(spec.file_hash)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _Progress(spec.file_name, total)
            got = 0
            while chunk := response.read(CHUNK):
                f.write(chunk)
                h.update(chunk)
                got += len(chunk)
                bar.update(got)
            bar.close(got)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise WeightsUnavailable(
            f"cannot download weights {spec.tag!r} from {url}: {reason}. Fetch it where there "
            f"is a connection and put it at {cached_path(spec)}, or set {MIRROR_ENV}."
        ) from None
    if total is not None and got != total:
        raise WeightsUnavailable(
            f"download of {url} was cut short: {got} of {total} bytes; nothing was cached, "
            "run again to retry."
        )
    return h.hexdigest()


class _Progress:
    """A one-line bar on a terminal; otherwise a log line every LOG_EVERY_S and at the end."""

    def __init__(self, name: str, total: int | None):
        self.name, self.total = name, total
        self.tty = sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        logger.info(f"downloading {name} ({_mib(total)})")

    def _text(self, got: int) -> str:
        if self.total:
            return f"{self.name}: {_mib(got)} of {_mib(self.total)} ({100 * got / self.total:.0f}%)"
        return f"{self.name}: {_mib(got)}"

    def update(self, got: int) -> None:
        now = time.monotonic()
        if self.tty:
            width = 30
            done = int(width * got / self.total) if self.total else 0
            sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {self._text(got)}")
            sys.stderr.flush()
        elif now - self.last >= LOG_EVERY_S:
            self.last = now
            logger.info(self._text(got))

    def close(self, got: int) -> None:
        if self.tty:
            sys.stderr.write("\n")
        seconds = time.monotonic() - self.start
        logger.info(f"{self._text(got)} in {seconds:.1f} s")


def _mib(n: int | None) -> str:
    return "size unknown" if n is None else f"{n / (1 << 20):.1f} MiB"
