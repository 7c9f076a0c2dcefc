"""Step-level training backups that survive a SIGKILL, a corrupt file and a full disk.

Keras' own BackupAndRestore writes `latest.weights.h5` and `training_metadata.json` in place,
so a kill during a save leaves a half-written backup; its `double_checkpoint` copies (rather
than renames) the previous generation, which a kill can also cut short; and a corrupt HDF5
file whose header survives loads without an error. Here each backup is a generation:

    backup/ckpt-00000120.weights.h5   weights and optimizer state (the iteration counter too)
    backup/ckpt-00000120.json         {"step", "bytes", "sha256"} of that file

- `save`: the weights are written atomically (keras_resnet.storage.atomic: temp file, fsync and
  rename on a disk; one object under its final name on a bucket), then the manifest the same
  way, and its presence is what commits the generation: the manifest is the commit on every
  file system, which is what makes a bucket (no atomic rename) safe. A manifest of the same
  step is deleted before its weights are replaced. Only after the commit are generations
  beyond the newest `keep` deleted, manifest first. A kill or a full disk at any point leaves
  every committed generation as it was.
- `restore`: the newest committed generation is tried first; weights without a manifest (a
  save a kill cut short) are never read. A missing manifest, a wrong
  size or checksum, an unreadable file or an iteration counter other than the manifest's is
  reported in one line, and the previous generation is tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re

import tensorflow as tf

from keras_resnet.errors import UserError
from keras_resnet.storage import atomic, files

NAME = re.compile(r"ckpt-(\d{8})\.weights\.h5$")
LEGACY = "latest.weights.h5"  # what the Keras BackupAndRestore layout left in older workdirs


def optimizer_step(model) -> int:
    """The optimizer's iteration count as an int, also for a MirroredVariable (whose Keras
    wrapper refuses `int()` inside a strategy scope)."""
    return int(tf.convert_to_tensor(model.optimizer.iterations).numpy())


def _weights(directory: str, step: int) -> str:
    return files.join(directory, f"ckpt-{step:08d}.weights.h5")


def _manifest(weights_path: str) -> str:
    return weights_path[: -len(".weights.h5")] + ".json"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _set_aside(path: str) -> None:
    """Keeps a corrupt file for a look, out of the generations' names, on a disk. On a bucket
    it is deleted: there a move is a copy (a read of bytes no manifest vouches for) and a
    delete."""
    if files.is_local(path):
        os.replace(path, path + ".corrupt")
    else:
        files.remove(path)


class CorruptBackup(Exception):
    """One generation cannot be used; the message says why."""


class BackupStore:
    """The generations in `directory`, newest last. `keep` >= 2 so that a corrupt newest one
    always has a predecessor to fall back to."""

    def __init__(self, directory: str, keep: int = 2, log=None):
        if keep < 2:
            raise ValueError(f"keep must be at least 2 (a fallback generation), got {keep}.")
        self.directory, self.keep = directory, keep
        self.log = log or logging.getLogger(__name__).warning
        self.last_good: tuple[str, int] | None = None  # (path, step) restored or saved

    def steps(self) -> list[int]:
        """Steps of the weights files present, committed or not, oldest first."""
        found = files.glob(self.directory, "ckpt-*.weights.h5")
        return sorted(int(m.group(1)) for p in found if (m := NAME.search(p)))

    def committed(self, step: int) -> bool:
        return files.exists(_manifest(_weights(self.directory, step)))

    def save(self, model, step: int) -> str:
        """Writes generation `step` atomically, then drops generations beyond `keep`."""
        files.makedirs(self.directory)
        path = _weights(self.directory, step)
        files.remove(_manifest(path))  # never a manifest beside weights it did not check
        tmp = path.replace(".weights.h5", ".tmp.weights.h5")  # Keras insists on the suffix
        manifest = {"step": step}

        def write(local):
            model.save_weights(local)
            manifest.update(bytes=os.path.getsize(local), sha256=_sha256(local))

        atomic.atomic_write(path, write, "backup", tmp=tmp)
        try:
            atomic.atomic_write_text(_manifest(path), json.dumps(manifest) + "\n")
        except atomic.DiskFull:
            files.remove(path)  # uncommitted: without its manifest it would only be skipped
            raise
        self.last_good = (path, step)
        for old in [s for s in self.steps() if s != step and self.committed(s)][: 1 - self.keep]:
            for p in (_manifest(_weights(self.directory, old)), _weights(self.directory, old)):
                files.remove(p)  # the manifest first: a kill in between leaves junk, not a lie
        return path

    def check(self, path: str) -> int:
        """The step of a committed, intact generation; CorruptBackup otherwise."""
        name = files.basename(path)
        if not files.exists(_manifest(path)):
            raise CorruptBackup(f"{name} has no manifest (its save never finished)")
        try:
            manifest = json.loads(files.read_text(_manifest(path)))
        except (OSError, ValueError) as e:
            raise CorruptBackup(f"{name}'s manifest is unreadable ({e})") from None
        size = files.size(path)
        if size != manifest.get("bytes"):
            raise CorruptBackup(f"{name} is {size} bytes, {manifest.get('bytes')} were written")
        with files.local_copy(path) as local:
            if _sha256(local) != manifest.get("sha256"):
                raise CorruptBackup(f"{name} does not match its sha256 (corrupt)")
        return int(manifest["step"])

    def _load(self, model, path: str, step: int | None) -> int:
        try:
            with files.local_copy(path) as local:
                model.load_weights(local)
        except Exception as e:  # h5py raises OSError, Keras ValueError on a wrong layout
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CorruptBackup(f"{files.basename(path)} cannot be loaded ({first})") from None
        restored = optimizer_step(model)
        if step is not None and restored != step:
            raise CorruptBackup(
                f"{files.basename(path)} holds step {restored}, its manifest says {step}"
            )
        return restored

    def restore(self, model, at_most: int | None = None) -> int:
        """Loads the newest usable generation into `model` (whose optimizer must be built),
        of step `at_most` or older if given; returns its step, 0 when there is no backup.
        Raises UserError when backups exist but none can be used, rather than silently
        starting over."""
        for leftover in files.glob(self.directory, "*.tmp*"):
            files.remove(leftover)  # a temporary file a kill left: never a committed generation
        steps = [s for s in self.steps() if at_most is None or s <= at_most]
        candidates = [(_weights(self.directory, s), True) for s in reversed(steps)]
        legacy = files.join(self.directory, LEGACY)
        if files.exists(legacy):
            candidates.append((legacy, False))  # no manifest to check it against
        problems, bad = [], []
        for path, managed in candidates:
            try:
                step = self._load(model, path, self.check(path) if managed else None)
            except CorruptBackup as e:
                if not managed or files.exists(_manifest(path)):
                    problems.append(str(e))  # a save that never committed is no problem
                bad += [path, _manifest(path)] if managed else []
                self.log(f"backup {e}; falling back to the previous one")
                continue
            for p in bad:  # set aside (kept for a look) so that rotation never keeps them
                with contextlib.suppress(FileNotFoundError):
                    _set_aside(p) if files.exists(p) else None
            self.last_good = (path, step)
            return step
        if problems:
            raise UserError(
                f"no usable backup in {self.directory}: {'; '.join(problems)}. Move that "
                "folder away to start the run over."
            )
        return 0

    def describe(self) -> str:
        """Where the last good generation is, for error messages."""
        if self.last_good is None:
            return f"no backup written yet in {self.directory}"
        path, step = self.last_good
        return f"last good backup {path} (step {step})"
