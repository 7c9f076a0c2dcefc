"""The run's directory: what is in it, and writing it so that a kill never leaves half a file.

config.json      the resolved config; a rerun with another config is refused
mean.npy         per-pixel training mean (keras_resnet.data)
metrics.csv      one row per epoch
tensorboard/     TensorBoard logs
backup/          step-level backups, two generations (training.backups), deleted at the end
checkpoints/     best.keras (lowest val top-1 error) and last.keras
model.keras      the final model
results.json     final test top1_error, top5_error (percent), epochs, steps, images_per_sec

The workdir may be any path keras_resnet.storage.files knows: a local folder, gs://bucket/run,
ram://run (tests). Each file here is one object, written whole (keras_resnet.storage.atomic);
the backup's generations, which span two objects, are committed by a manifest.
"""

from __future__ import annotations

import csv
import io
import json

from keras_resnet.configs.base import ADDED_KEYS, REPORTING_ONLY
from keras_resnet.errors import UserError
from keras_resnet.storage import files
from keras_resnet.storage.atomic import (
    TEMP_PATTERNS,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    read_json,
)

CONFIG = "config.json"
METRICS = "metrics.csv"
RESULTS = "results.json"
MODEL = "model.keras"
CHECKPOINTS = "checkpoints"
BACKUP = "backup"
TENSORBOARD = "tensorboard"
SCHEDULE_STATE = "schedule_state.json"
CLASS_NAMES = "class_names.txt"  # one per line, served with the model by export


def save_model_atomic(model, path: str, fault: str | None = None) -> None:
    """`model.save` to `<dir>/.tmp-<name>` (Keras wants the .keras suffix), then rename. Fused
    BN layers are standard Keras layers on disk (keras_resnet.models.fused_bn), so the file
    opens anywhere."""
    tmp = files.join(files.dirname(path), f".tmp-{files.basename(path)}")
    atomic_write(path, model.save, fault, tmp=tmp)


def remove_stale_temps(workdir: str) -> list[str]:
    """Deletes temporary files a killed run left behind (never a final name); returns them."""
    found = []
    for sub in ("", CHECKPOINTS):
        for pattern in TEMP_PATTERNS:
            found += files.glob(files.join(workdir, sub) if sub else workdir, pattern)
    for path in found:
        files.remove(path)
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

    Reading only: nothing is written, so a refused rerun leaves the old run untouched. Keys
    that only change reporting (configs.base.REPORTING_ONLY) may differ.
    """
    old = read_json(files.join(workdir, CONFIG))
    if old is None:
        return False
    new = _normalised(config_dict)
    for key, value in ADDED_KEYS.items():  # absent on either side: the key's old behaviour
        old.setdefault(key, value)
        new.setdefault(key, value)
    for key in REPORTING_ONLY:
        old.pop(key, None)
        new.pop(key, None)
    diff = _differences(old, new)
    if diff:
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise UserError(
            f"{workdir} holds a run with a different config ({shown}); use another --workdir "
            "(WORKDIR=) or the same settings to resume."
        )
    return True


def write_config(workdir: str, config_dict: dict) -> None:
    files.makedirs(workdir)
    atomic_write_json(files.join(workdir, CONFIG), _normalised(config_dict))


def read_metrics(workdir: str) -> list[dict]:
    path = files.join(workdir, METRICS)
    if not files.exists(path):
        return []
    return list(csv.DictReader(io.StringIO(files.read_text(path), newline="")))


def write_metrics(workdir: str, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(files.join(workdir, METRICS), buf.getvalue(), fault="metrics")
