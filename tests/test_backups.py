"""Backup generations in-process: rotation, corrupt or truncated files detected on restore
with one line and the previous generation used, a full disk that keeps the last good one."""

import errno
import json
import os
import re

import numpy as np
import pytest

from keras_resnet.errors import UserError
from keras_resnet.storage import atomic, faults
from keras_resnet.training import backups
from tests import reliability_utils as u


def _store(tmp_path, lines):
    return backups.BackupStore(str(tmp_path / "backup"), log=lines.append)


def _saved(tmp_path, steps):
    lines = []
    store, model = _store(tmp_path, lines), u.backup_model()
    for step in steps:
        store.save(u.at_step(model, step), step)
    return store, lines


def _restored_kernel_and_step(store):
    fresh = u.backup_model()
    step = store.restore(fresh)
    return float(fresh.layers[0].kernel.numpy()[0, 0]), step


def test_keeps_two_committed_generations(tmp_path):
    store, _ = _saved(tmp_path, [4, 8, 12])
    assert sorted(os.listdir(store.directory)) == [
        "ckpt-00000008.json",
        "ckpt-00000008.weights.h5",
        "ckpt-00000012.json",
        "ckpt-00000012.weights.h5",
    ]
    manifest = json.load(open(os.path.join(store.directory, "ckpt-00000012.json")))
    assert manifest["step"] == 12 and manifest["bytes"] > 0 and len(manifest["sha256"]) == 64
    assert _restored_kernel_and_step(store) == (12.0, 12)


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("flip", "does not match its sha256"),
        ("truncate", "bytes, .* were written"),
        ("manifest", "has no manifest"),
        ("empty", "is 0 bytes"),
    ],
)
def test_corrupt_newest_falls_back_to_previous(tmp_path, damage, reason):
    store, lines = _saved(tmp_path, [8, 12])
    newest = os.path.join(store.directory, "ckpt-00000012.weights.h5")
    size = os.path.getsize(newest)
    if damage == "flip":  # one byte in the middle: HDF5 itself would load it silently
        with open(newest, "r+b") as f:
            f.seek(size // 2)
            byte = f.read(1)
            f.seek(size // 2)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncate":
        os.truncate(newest, size // 2)
    elif damage == "manifest":
        os.remove(newest[: -len(".weights.h5")] + ".json")
    else:
        os.truncate(newest, 0)
    assert _restored_kernel_and_step(store) == (8.0, 8)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("backup ckpt-00000012.weights.h5 ")
    assert lines[0].endswith("falling back to the previous one")
    assert re.search(reason, lines[0]), lines[0]
    # Set aside, so that the next saves rotate the good generation, not the corrupt one.
    assert os.path.exists(newest + ".corrupt") and store.steps() == [8]
    assert store.describe().endswith("ckpt-00000008.weights.h5 (step 8)")


def test_manifest_step_must_match_the_weights(tmp_path):
    store, lines = _saved(tmp_path, [8, 12])
    path = os.path.join(store.directory, "ckpt-00000012.json")
    manifest = json.load(open(path))
    atomic.atomic_write_text(path, json.dumps({**manifest, "step": 13}))
    assert _restored_kernel_and_step(store) == (8.0, 8)
    assert "holds step 12, its manifest says 13" in lines[0]


def test_no_usable_backup_is_an_error_not_a_silent_restart(tmp_path):
    store, _ = _saved(tmp_path, [8, 12])
    for step in (8, 12):
        os.truncate(os.path.join(store.directory, f"ckpt-{step:08d}.weights.h5"), 10)
    with pytest.raises(UserError, match="no usable backup in .*Move that folder away"):
        store.restore(u.backup_model())
    assert store.steps() == [8, 12]  # left as they were, for a look


def test_leftover_temporary_files_are_ignored_and_removed(tmp_path):
    store, _ = _saved(tmp_path, [8])
    partial = os.path.join(store.directory, "ckpt-00000012.tmp.weights.h5")
    with open(partial, "wb") as f:
        f.write(b"\x89HDF half a file")
    assert _restored_kernel_and_step(store) == (8.0, 8)
    assert not os.path.exists(partial)


def test_disk_full_keeps_the_last_good_generation(tmp_path, monkeypatch):
    store, _ = _saved(tmp_path, [4, 8])
    model = u.at_step(u.backup_model(), 12)
    real_save = model.save_weights

    def save_then_fail(path):
        real_save(path)  # half the disk's worth written, then no space for the rest
        os.truncate(path, os.path.getsize(path) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model, "save_weights", save_then_fail)
    with pytest.raises(atomic.DiskFull) as e:
        store.save(model, 12)
    message = str(e.value)
    assert message.startswith("disk full while writing ") and "ckpt-00000012.weights.h5" in message
    assert "removed its partial temporary file, deleted nothing else" in message
    assert "\n" not in message
    assert store.steps() == [4, 8] and all(store.check(p) for p in _paths(store, [4, 8]))
    assert not [f for f in os.listdir(store.directory) if "tmp" in f]
    assert store.describe().endswith("ckpt-00000008.weights.h5 (step 8)")


def _paths(store, steps):
    return [os.path.join(store.directory, f"ckpt-{s:08d}.weights.h5") for s in steps]


def test_fault_spec_is_validated():
    assert faults.parse("backup:2,step:7:term") == {"backup": (2, "kill"), "step": (7, "term")}
    for bad in ("backup", "bakup:2", "backup:x", "backup:0", "backup:2:explode"):
        with pytest.raises(ValueError, match=f"KERAS_RESNET_FAULT='{bad}'"):
            faults.parse(bad)


@pytest.mark.slow
def test_corrupt_backup_on_resume_end_to_end(tmp_path):
    """The command line: killed at step 10 (backups of steps 6 and 8 on disk), one byte of
    the newest flipped; the rerun says so in one line, resumes at step 6 and finishes."""

    workdir = str(tmp_path / "run")
    assert u.run(u.main_cmd(workdir), "step:10").returncode == -9
    newest = u.committed_backups(workdir)[8]
    with open(newest, "r+b") as f:
        f.seek(os.path.getsize(newest) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    out = u.run(u.main_cmd(workdir))
    assert out.returncode == 0, out.stderr[-3000:]
    # One warning in absl's format: level W, timestamp, thread, source, then the message.
    warning = [line for line in out.stderr.splitlines() if "] backup ckpt-" in line]
    assert len(warning) == 1, out.stderr[-3000:]
    assert re.fullmatch(
        r"W\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ backups\.py:\d+\] backup ckpt-00000008\.weights\.h5 "
        r"does not match its sha256 \(corrupt\); falling back to the previous one",
        warning[0],
    ), warning[0]
    assert "resuming at step 6 " in out.stderr
    u.check_continuous(workdir, **u.TINY)
    assert u.read_results(workdir)["steps"] == u.TINY["total_steps"]


@pytest.mark.parametrize("peer_step, expected", [(12, 12), (8, 8), (0, 0)])
def test_workers_resume_at_the_oldest_step_any_of_them_backed_up(tmp_path, peer_step, expected):
    """A kill between two workers' commits of step 12: the one ahead goes back to the step the
    other has (the previous generation), or to its initial weights when the other has none.
    `consensus` stands in for distribute.worker_consensus's all-gather over the workers."""
    from keras_resnet.training.callbacks import ResumableBackup

    _saved(tmp_path, [8, 12])
    model = u.backup_model()
    initial = model.layers[0].kernel.numpy().copy()
    backup = ResumableBackup(str(tmp_path / "backup"), 4, 6, 13)
    epoch = backup.restore(model, consensus=lambda step: (min(step, peer_step), 12))
    assert backup.saved_step == expected and int(model.optimizer.iterations) == expected
    assert epoch == expected // 6
    kernel = model.layers[0].kernel.numpy()
    np.testing.assert_array_equal(kernel, initial if expected == 0 else float(expected))


def test_a_step_no_worker_backed_up_is_an_error(tmp_path):
    from keras_resnet.training.callbacks import ResumableBackup

    _saved(tmp_path, [8, 12])
    backup = ResumableBackup(str(tmp_path / "backup"), 4, 6, 13)
    with pytest.raises(UserError, match="no backup of step 4, which another worker resumes"):
        backup.restore(u.backup_model(), consensus=lambda step: (4, 12))
