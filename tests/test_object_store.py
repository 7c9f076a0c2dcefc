"""The object-store commit protocol on an in-process fake with GCS's rules (tests/object_store.py):
a kill before every single write, then a restart on what the store holds. Nothing committed is
lost, and nothing is read back that its writer had not finished and committed."""

import json

import keras
import numpy as np
import pytest

from keras_resnet.storage import atomic, files
from keras_resnet.training import backups
from keras_resnet.training import workdir as wd
from tests import reliability_utils as u
from tests.object_store import FakeObjectStore, Killed, mounted

ROOT = "fake://bucket/run"
STEPS = (4, 8, 12, 16)


def _save_all(store, model):
    """What training does: a generation at each step, each committed before the next."""
    backup = backups.BackupStore(f"{ROOT}/backup", log=lambda line: None)
    for step in STEPS:
        backup.save(u.at_step(model, step), step)
        store.committed_steps.append(step)  # the save returned


def _writes_of(scenario) -> int:
    store = FakeObjectStore()
    store.committed_steps = []
    with mounted(store):
        scenario(store)
    return store.writes


def test_the_fake_has_gcs_rules(tmp_path):
    local = tmp_path / "x"
    local.write_bytes(b"whole")
    store = FakeObjectStore(kill_at=2)
    with mounted(store):
        files.upload(str(local), "fake://b/a")
        assert files.read_bytes("fake://b/a") == b"whole" and files.isdir("fake://b")
        with pytest.raises(Killed):  # a rename is two writes: the kill lands between them
            store.rename("fake://b/a", "fake://b/c")
    assert store.objects == {"fake://b/a": b"whole"}  # the copy never happened
    store = FakeObjectStore(kill_at=3)
    with mounted(store):
        files.upload(str(local), "fake://b/a")
        with pytest.raises(Killed):
            store.rename("fake://b/a", "fake://b/c")
    assert set(store.objects) == {"fake://b/a", "fake://b/c"}  # both: not atomic


def test_backups_survive_a_kill_before_every_write():
    model = u.backup_model()
    total = _writes_of(lambda store: _save_all(store, model))
    # Per generation: a delete of any old manifest is skipped (none), weights, manifest, and
    # from the third on the two deletes of the rotation.
    assert total == 2 * len(STEPS) + 2 * (len(STEPS) - 2)
    for kill_at in range(1, total + 1):
        store = FakeObjectStore(kill_at=kill_at)
        store.committed_steps = []
        with mounted(store):
            with pytest.raises(Killed):
                _save_all(store, model)
            store.kill_at = None  # the restart
            returned = store.committed_steps[-1] if store.committed_steps else 0
            manifests = [p for op, p in store.log if op == "upload" and p.endswith(".json")]
            committed = int(manifests[-1][-13:-5]) if manifests else 0
            fresh = u.backup_model()
            restored = backups.BackupStore(f"{ROOT}/backup", log=lambda line: None).restore(fresh)
            # Nothing lost: the newest generation whose manifest was written is restored (the
            # save may not have returned yet: the kill came during its rotation)...
            assert restored == committed >= returned, (kill_at, store.log)
            # ...and what was read is exactly what that save wrote, never a later partial one.
            kernel = fresh.layers[0].kernel.numpy()
            assert np.all(kernel == float(committed)) if committed else True, kill_at
            read_weights = [p for p, _ in store.reads if p.endswith(".weights.h5")]
            assert (
                read_weights
                == ([f"{ROOT}/backup/ckpt-{committed:08d}.weights.h5"] * 2)[: 2 if committed else 0]
            ), (kill_at, read_weights)  # checked (sha256), then loaded; no other
            # The restarted run goes on: its next save commits and rotates as usual.
            backup = backups.BackupStore(f"{ROOT}/backup", log=lambda line: None)
            backup.save(u.at_step(fresh, 20), 20)
            assert backup.restore(u.backup_model()) == 20


def _workdir_writes(store, model):
    """The files a run writes in its workdir, in order (each a single object)."""
    wd.write_config(ROOT, {"model": "tiny", "seed": 0})
    for epoch in (1, 2):
        rows = [{"epoch": e, "step": 6 * e} for e in range(1, epoch + 1)]
        wd.write_metrics(ROOT, rows, ["epoch", "step"])
        wd.save_model_atomic(model, f"{ROOT}/checkpoints/last.keras", fault="checkpoint")
        store.committed_steps.append(epoch)
    wd.save_model_atomic(model, f"{ROOT}/model.keras", fault="model")
    atomic.atomic_write_json(f"{ROOT}/results.json", {"steps": 12}, fault="results")


def test_workdir_files_survive_a_kill_before_every_write():
    model = u.backup_model()
    total = _writes_of(lambda store: _workdir_writes(store, model))
    assert total == 1 + 2 * 2 + 2
    for kill_at in range(1, total + 1):
        store = FakeObjectStore(kill_at=kill_at)
        store.committed_steps = []
        with mounted(store):
            with pytest.raises(Killed):
                _workdir_writes(store, model)
            store.kill_at = None
            # Every object present is whole and parses; what a resume reads agrees.
            for name, data in store.objects.items():
                if name.endswith(".keras"):
                    with files.local_copy(name) as local:
                        keras.models.load_model(local, compile=False, safe_mode=True)
                elif name.endswith(".json"):
                    json.loads(data)
            rows = wd.read_metrics(ROOT)
            epochs = store.committed_steps
            # metrics.csv holds the rows of the epochs whose writes returned, or one more
            # (a kill between the row and its checkpoint repeats only the checkpoint).
            assert len(rows) in (len(epochs), len(epochs) + 1), (kill_at, rows)
            assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
            assert wd.check_config(ROOT, {"model": "tiny", "seed": 0}) is (kill_at > 1)
            assert atomic.read_json(f"{ROOT}/results.json") is None  # the last write


# config, class names, mean, metrics.csv (header), then per backup weights + manifest, per
# epoch metrics.csv + last.keras, a rotation, model.keras, results.json, the backup deleted.
RUN_WRITES = 22


def _tiny_run():
    from keras_resnet.configs import cifar10

    config = cifar10.get_config("resnet8")
    config.dataset = "digits"
    config.batch_size, config.num_epochs, config.scale = 64, 1, 0.3  # 6 steps an epoch, 7 in all
    config.backup_every_steps = 4
    return config


def _train_on_fake(store, tmp_path):
    from keras_resnet.training import train

    with mounted(store):
        return train.train_and_evaluate(_tiny_run(), ROOT, tensorboard_dir=str(tmp_path / "tb"))


def _check_finished(store):
    with mounted(store):
        rows = wd.read_metrics(ROOT)
        assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(1, 6), (2, 7)]
        assert atomic.read_json(f"{ROOT}/results.json")["steps"] == 7
        assert not files.exists(f"{ROOT}/backup")


def _killed_then_resumed(tmp_path, kill_at):
    store = FakeObjectStore(kill_at=kill_at)
    with pytest.raises(Killed):
        _train_on_fake(store, tmp_path)
    store.kill_at = None
    _train_on_fake(store, tmp_path)
    _check_finished(store)
    return store


def test_training_on_the_fake_store_killed_mid_run_resumes(tmp_path):
    """The whole run touches the workdir only through keras_resnet.storage (a stray os call
    would miss the fake), and a kill between two of its writes costs nothing on restart."""
    store = FakeObjectStore()
    _train_on_fake(store, tmp_path)
    _check_finished(store)
    assert store.writes == RUN_WRITES, store.log
    # Killed before the 9th write (step 6's backup, after epoch 1's row and last.keras): the
    # restart resumes at step 4 (never backs it up again), drops epoch 1's row and trains the
    # epoch's last two steps again, once.
    store = _killed_then_resumed(tmp_path, 9)
    saves = [p for op, p in store.log if op == "upload" and "/backup/" in p]
    assert saves.count(f"{ROOT}/backup/ckpt-00000004.weights.h5") == 1, saves
    assert saves.count(f"{ROOT}/backup/ckpt-00000006.weights.h5") == 1, saves


@pytest.mark.slow
def test_training_on_the_fake_store_survives_a_kill_before_every_write(tmp_path):
    for kill_at in range(1, RUN_WRITES + 1):
        _killed_then_resumed(tmp_path, kill_at)
