"""Writing files so that a kill, a full disk or a power cut never leaves half a file.

Every file the package writes (workdir files, backups, the per-pixel mean, exports' metadata)
goes through `atomic_write`, on any file system `keras_resnet.storage.files` knows:

- a local path: a temporary sibling is written, fsynced, renamed over its final name, and the
  directory fsynced: readers see the old file or the whole new one;
- an object store (gs://, s3://, ram://): the bytes are written to a local temporary file, then
  uploaded as one object under its final name. An object appears only when its upload closes,
  whole, replacing the old one; nothing is ever renamed, because there a rename is a copy plus
  a delete that a kill can cut in two. What spans several objects (a backup generation, an
  export version) is committed by a manifest written last (keras_resnet.training.backups).

A storage timeout (TimeoutError, or TensorFlow's Unavailable / DeadlineExceeded from a bucket)
becomes `Transient`: one line, exit 138, and the scheduler retries. `faults` names the points
where the reliability tests kill, fill the disk or time out.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile

from keras_resnet.errors import Transient, UserError, is_transient
from keras_resnet.storage import faults, files

# ENOSPC: no space; EDQUOT: quota; EFBIG: the file size limit (ulimit -f), the same to the user.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Temporary names the writers below use; a kill can leave them behind, never a final name.
TEMP_PATTERNS = ("*.tmp", ".tmp-*", "*.tmp.npy")


class DiskFull(UserError):
    """A write failed for lack of space; the message names the file, and nothing was deleted
    but that write's own temporary file."""


def is_disk_full(error: OSError, directory: str) -> bool:
    if error.errno in DISK_FULL_ERRNOS or "No space left" in str(error):
        return True
    # numpy and some C writers report a short write without an errno: ask the file system.
    with contextlib.suppress(OSError):
        return error.errno is None and shutil.disk_usage(directory).free < (1 << 20)
    return False


def _fsync(path: str) -> None:
    # A rename is atomic against a kill; fsync makes it so against a power cut too: the file's
    # bytes before the rename, and the directory entry after it.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _transient(path: str, error: BaseException) -> Transient:
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return Transient(f"storage error writing {path} ({first[:200]})")


def _upload(path: str, write, fault: str | None, tmp: str | None) -> None:
    """The object-store write: `write` fills a local temporary file (same name as `tmp`'s, for
    writers that insist on a suffix), which is uploaded under `path` as one object."""
    name = files.basename(tmp) if tmp else files.basename(path)
    with tempfile.TemporaryDirectory(prefix="keras-resnet-upload-") as staging:
        local = os.path.join(staging, name)
        try:
            with faults.writing(fault, local) if fault else contextlib.nullcontext():
                write(local)
            files.upload(local, path)
        except Exception as e:
            if is_transient(e):
                raise _transient(path, e) from None
            raise


def atomic_write(path: str, write, fault: str | None = None, tmp: str | None = None) -> None:
    """Calls `write(tmp)`, fsyncs tmp, renames it over `path`: readers see the old file or the
    whole new one, never a part. On a full disk the temporary file is removed and DiskFull
    raised. `fault` names the keras_resnet.storage.faults point this write is. On an object
    store the write is `_upload`'s instead (one object under its final name, no rename)."""
    if not files.is_local(path):
        return _upload(path, write, fault, tmp)
    path = files.local_path(path)
    tmp = tmp or f"{path}.tmp"
    try:
        with faults.writing(fault, tmp) if fault else contextlib.nullcontext():
            write(tmp)
            _fsync(tmp)
        os.replace(tmp, path)
        _fsync(os.path.dirname(os.path.abspath(path)))
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if is_transient(e):
            raise _transient(path, e) from None
        if is_disk_full(e, os.path.dirname(os.path.abspath(path))):
            reason = " ".join(str(e).split(" (")[0].split())  # h5py appends a long C trace
            raise DiskFull(
                f"disk full while writing {path} ({reason}); removed its partial temporary "
                "file, deleted nothing else"
            ) from None
        raise


def _write_text(text: str):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    return write


def atomic_write_text(path: str, text: str, fault: str | None = None) -> None:
    """Writes a temporary sibling, then renames it over `path` (atomic on POSIX)."""
    atomic_write(path, _write_text(text), fault)


def atomic_write_json(path: str, obj, fault: str | None = None) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n", fault)


def read_json(path: str, default=None):
    if not files.exists(path):
        return default
    return json.loads(files.read_text(path))
