"""The run's directory: what is in it, and writing it so that a kill never leaves half a file.

config.json      the resolved config; a rerun with another config is refused
mean.npy         per-pixel training mean (keras_resnet.data)
metrics.csv      one row per epoch
tensorboard/     TensorBoard logs
backup/          step-level backups, two generations (keras_resnet.backups), deleted at the end
checkpoints/     best.keras (lowest val top-1 error) and last.keras
model.keras      the final model
results.json     final test top1_error, top5_error (percent), epochs, steps, images_per_sec
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import io
import json
import os
import shutil

from keras_resnet import faults
from keras_resnet.cli import UserError

CONFIG = "config.json"
METRICS = "metrics.csv"
RESULTS = "results.json"
MODEL = "model.keras"
CHECKPOINTS = "checkpoints"
BACKUP = "backup"
TENSORBOARD = "tensorboard"
SCHEDULE_STATE = "schedule_state.json"


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
    # A rename is atomic against a kill; fsync makes it so against a power cut too.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, write, fault: str | None = None, tmp: str | None = None) -> None:
    """Calls `write(tmp)`, fsyncs tmp, renames it over `path`: readers see the old file or the
    whole new one, never a part. On a full disk the temporary file is removed and DiskFull
    raised. `fault` names the keras_resnet.faults point this write is."""
    tmp = tmp or f"{path}.tmp"
    try:
        with faults.writing(fault, tmp) if fault else contextlib.nullcontext():
            write(tmp)
            _fsync(tmp)
        os.replace(tmp, path)
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


def save_model_atomic(model, path: str, fault: str | None = None) -> None:
    """`model.save` to `<dir>/.tmp-<name>` (Keras wants the .keras suffix), then rename. Fused
    BN layers are saved as the standard Keras layer they compute, so the file opens anywhere."""
    from keras_resnet.fused_bn import standard_batchnorm

    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.path.basename(path)}")
    with standard_batchnorm(model):
        atomic_write(path, model.save, fault, tmp=tmp)


def remove_stale_temps(workdir: str) -> list[str]:
    """Deletes temporary files a killed run left behind (never a final name); returns them."""
    found = []
    for sub in ("", CHECKPOINTS):
        for pattern in TEMP_PATTERNS:
            found += glob.glob(os.path.join(workdir, sub, pattern))
    for path in found:
        with contextlib.suppress(OSError):
            os.remove(path)
    return found


def _normalised(config_dict: dict) -> dict:
    # JSON turns tuples into lists; compare what would be written with what was written.
    return json.loads(json.dumps(config_dict, sort_keys=True))


def _differences(old: dict, new: dict, prefix="") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def check_config(workdir: str, config_dict: dict) -> bool:
    """Raises UserError if `workdir` holds a run of another config; True if it holds this one.

    Reading only: nothing is written, so a refused rerun leaves the old run untouched.
    """
    old = read_json(os.path.join(workdir, CONFIG))
    if old is None:
        return False
    diff = _differences(old, _normalised(config_dict))
    if diff:
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise UserError(
            f"{workdir} holds a run with a different config ({shown}); use another --workdir "
            "(WORKDIR=) or the same settings to resume."
        )
    return True


def write_config(workdir: str, config_dict: dict) -> None:
    os.makedirs(workdir, exist_ok=True)
    atomic_write_json(os.path.join(workdir, CONFIG), _normalised(config_dict))


def read_metrics(workdir: str) -> list[dict]:
    path = os.path.join(workdir, METRICS)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_metrics(workdir: str, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(os.path.join(workdir, METRICS), buf.getvalue(), fault="metrics")
