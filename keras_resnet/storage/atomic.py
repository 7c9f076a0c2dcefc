"""Writing files so that a kill, a full disk or a power cut never leaves half a file.

Every file the package writes (workdir files, backups, the per-pixel mean, exports' metadata)
goes to a temporary sibling, is fsynced, renamed over its final name, and the directory is
fsynced: readers see the old file or the whole new one. `faults` names the points where the
reliability tests kill or fill the disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil

from keras_resnet.errors import UserError
from keras_resnet.storage import faults

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


def atomic_write(path: str, write, fault: str | None = None, tmp: str | None = None) -> None:
    """Calls `write(tmp)`, fsyncs tmp, renames it over `path`: readers see the old file or the
    whole new one, never a part. On a full disk the temporary file is removed and DiskFull
    raised. `fault` names the keras_resnet.storage.faults point this write is."""
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
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)
