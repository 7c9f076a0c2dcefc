"""Paths on any file system: local paths, and every URI tf.io.gfile knows (gs://, s3://, ram://).

Callers use these functions instead of `os`, `open` and `glob`, and so work on a bucket as on a
disk. A local path (no scheme, or file://) goes to `os`; a URI goes to the backend registered for
its scheme, tf.io.gfile unless a test registered another (tests/object_store.py registers an
in-process fake with GCS's rules). TensorFlow is imported only when a URI is used.

Object stores differ from a disk in the two ways that matter here (keras_resnet.storage.atomic
builds on them): an object appears, whole, only when its upload closes; and there is no rename,
only copy plus delete, so a rename is never a commit.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
import re
import shutil
import tempfile

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_backends: dict = {}  # scheme -> backend object, for tests; others use tf.io.gfile


def scheme(path: str) -> str | None:
    """'gs' for gs://b/x, None for a local path (file:// counts as local)."""
    m = _SCHEME.match(str(path))
    return None if m is None or m.group(1) == "file" else m.group(1)


def is_local(path: str) -> bool:
    return scheme(path) is None


def local_path(path: str) -> str:
    return path[len("file://") :] if str(path).startswith("file://") else str(path)


def register(scheme_name: str, backend) -> None:
    """Routes `scheme_name://` URIs to `backend` (an object with GFileBackend's methods)."""
    _backends[scheme_name] = backend


def unregister(scheme_name: str) -> None:
    _backends.pop(scheme_name, None)


class GFileBackend:
    """tf.io.gfile, for every scheme TensorFlow has a file system for."""

    def __init__(self):
        import tensorflow as tf

        self.gfile = tf.io.gfile

    def exists(self, path):
        return self.gfile.exists(path)

    def isdir(self, path):
        return self.gfile.isdir(path)

    def listdir(self, path):
        return [n.rstrip("/") for n in self.gfile.listdir(path)]

    def makedirs(self, path):
        self.gfile.makedirs(path)

    def remove(self, path):
        self.gfile.remove(path)

    def rmtree(self, path):
        self.gfile.rmtree(path)

    def size(self, path):
        return self.gfile.stat(path).length

    def read(self, path) -> bytes:
        with self.gfile.GFile(path, "rb") as f:
            return f.read()

    def upload(self, local: str, path: str) -> None:
        """One object under its final name: it appears, whole, when the copy closes."""
        if scheme(path) == "ram" and self.gfile.exists(path):
            # TensorFlow's ram:// appends to a file it already holds instead of replacing it.
            # ram:// is for tests only; on a bucket a delete first would open a gap.
            self.gfile.remove(path)
        self.gfile.copy(local, path, overwrite=True)


def _backend(path: str):
    name = scheme(path)
    if name not in _backends:
        _backends[name] = GFileBackend()
    return _backends[name]


def join(path: str, *parts: str) -> str:
    return os.path.join(path, *parts) if is_local(path) else posixpath.join(path, *parts)


def dirname(path: str) -> str:
    return os.path.dirname(path) if is_local(path) else posixpath.dirname(path.rstrip("/"))


def basename(path: str) -> str:
    return os.path.basename(path) if is_local(path) else posixpath.basename(path.rstrip("/"))


def exists(path: str) -> bool:
    return os.path.exists(local_path(path)) if is_local(path) else _backend(path).exists(path)


def isdir(path: str) -> bool:
    return os.path.isdir(local_path(path)) if is_local(path) else _backend(path).isdir(path)


def listdir(path: str) -> list[str]:
    """Names in directory `path`; [] when it does not exist."""
    if is_local(path):
        p = local_path(path)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []
    try:  # no isdir test first: on ram:// and some buckets a prefix is no directory
        return sorted(_backend(path).listdir(path))
    except Exception as e:  # tf.errors.NotFoundError, or FileNotFoundError from a test backend
        if isinstance(e, FileNotFoundError) or type(e).__name__ == "NotFoundError":
            return []
        raise


def glob(directory: str, pattern: str) -> list[str]:
    """Paths of the entries of `directory` whose names match `pattern` (one level, no '/')."""
    return [join(directory, n) for n in listdir(directory) if fnmatch.fnmatch(n, pattern)]


def makedirs(path: str) -> None:
    if is_local(path):
        os.makedirs(local_path(path), exist_ok=True)
    else:
        _backend(path).makedirs(path)


def remove(path: str, missing_ok: bool = True) -> None:
    try:
        os.remove(local_path(path)) if is_local(path) else _backend(path).remove(path)
    except FileNotFoundError:
        if not missing_ok:
            raise
    except Exception as e:  # tf.errors.NotFoundError is no FileNotFoundError
        if not (missing_ok and type(e).__name__ == "NotFoundError"):
            raise


def rmtree(path: str) -> None:
    if is_local(path):
        shutil.rmtree(local_path(path), ignore_errors=True)
    elif exists(path):
        _backend(path).rmtree(path)


def size(path: str) -> int:
    return os.path.getsize(local_path(path)) if is_local(path) else _backend(path).size(path)


def read_bytes(path: str) -> bytes:
    if is_local(path):
        with open(local_path(path), "rb") as f:
            return f.read()
    return _backend(path).read(path)


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def upload(local: str, path: str) -> None:
    """Copies local file `local` to URI `path` as one object."""
    _backend(path).upload(local, path)


def copy_out(path: str, local: str) -> None:
    with open(local, "wb") as f:
        f.write(read_bytes(path))


@contextlib.contextmanager
def local_copy(path: str):
    """A local file path with `path`'s bytes, for readers that want a file (h5py, Keras): the
    path itself when local, else a temporary download removed afterwards."""
    if is_local(path):
        yield local_path(path)
        return
    with tempfile.TemporaryDirectory(prefix="keras-resnet-") as tmp:
        local = os.path.join(tmp, basename(path))
        copy_out(path, local)
        yield local


def upload_tree(local_dir: str, path: str, last: tuple[str, ...] = ()) -> list[str]:
    """Uploads every file under `local_dir` to `path`, the relative names in `last` after all
    others and in that order; returns the relative names uploaded."""
    names = []
    for root, _, filenames in os.walk(local_dir):
        for name in filenames:
            names.append(os.path.relpath(os.path.join(root, name), local_dir))
    names = sorted(n for n in names if n not in last) + [n for n in last if n in names]
    for name in names:
        target = join(path, *name.split(os.sep))
        makedirs(dirname(target))
        upload(os.path.join(local_dir, name), target)
    return names
