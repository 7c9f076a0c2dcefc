"""SIGKILL at named points (KERAS_RESNET_FAULT) and at random times, then a rerun.

After every kill: no file under a final name is half-written. After the last rerun: the run
completed, metrics.csv holds each epoch once, and the step count is the configured one.
"""

import collections
import os
import random
import signal
import time

import pytest

from tests import reliability_utils as u

KILLED = -signal.SIGKILL


def _kill_at(workdir, fault):
    """Runs until the fault point SIGKILLs the process; checks what it left behind."""
    out = u.run(u.main_cmd(workdir), fault)
    assert out.returncode == KILLED, f"{fault} did not kill the run: {out.stderr[-2000:]}"
    u.check_intact(workdir)
    return out


def _finish(workdir, expect_resume_step=None):
    out = u.run(u.main_cmd(workdir))
    assert out.returncode == 0, out.stderr[-3000:]
    if expect_resume_step is not None:
        assert f"resuming at step {expect_resume_step} " in out.stderr, out.stderr
    u.check_continuous(workdir, **u.TINY)
    u.check_intact(workdir)
    results = u.read_results(workdir)
    assert results["steps"] == u.TINY["total_steps"] and results["epochs"] == u.TINY["epochs"]
    assert not os.path.exists(os.path.join(workdir, "backup"))
    assert not [f for f in os.listdir(workdir) if "tmp" in f], os.listdir(workdir)
    return out


def test_sigkill_mid_backup_write_then_resume(tmp_path):
    """The second backup (step 6, the end of epoch 1) is half-written when the kill lands:
    the rerun resumes from the first one (step 4), and redoes epoch 1's end once."""
    workdir = str(tmp_path / "run")
    _kill_at(workdir, "backup:2")
    backup = os.path.join(workdir, "backup")
    assert sorted(u.committed_backups(workdir)) == [4]
    half = os.path.join(backup, "ckpt-00000006.tmp.weights.h5")
    assert os.path.getsize(half) > 0  # the kill landed mid-write, under a temporary name
    assert [int(r["epoch"]) for r in u.rows(workdir)] == [1]  # its row came before the backup
    _finish(workdir, expect_resume_step=4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault, resume_step",
    [
        ("step:3", None),  # mid-epoch, before any backup: starts over
        ("step:10", 8),  # mid-epoch 2
        ("backup:3", 6),  # mid-write of a step-level backup (step 8)
        ("checkpoint:1", None),  # mid-write of checkpoints/last.keras, epoch 1
        # checkpoints/last.keras is written once per epoch; best.keras only with a validation
        # split, which TINY has none of (was counted here when every run wrote it).
        ("checkpoint:2", 8),  # epoch 2's last.keras, before epoch 2's backup (step 12)
        ("checkpoint:3", 12),  # epoch 3's (the last) last.keras, after epoch 2's backup
        ("metrics:3", 8),  # mid-write of metrics.csv, epoch 2's row (1 rewrites it at start)
        ("model:1", 13),  # mid-write of the final model.keras
        ("results:1", 13),  # mid-write of results.json
    ],
)
def test_sigkill_at_each_phase_then_resume(tmp_path, fault, resume_step):
    workdir = str(tmp_path / "run")
    _kill_at(workdir, fault)
    _finish(workdir, expect_resume_step=resume_step)


@pytest.mark.slow
def test_random_sigkills_until_done(tmp_path):
    """Kills at random moments (start-up, training, checkpoints, the final save) and at
    random fault points, rerunning after each, until a run completes; then checks the run.
    FAULT_SEED=<seed> replays a sequence."""
    seed = int(os.environ.get("FAULT_SEED", time.time()))
    rng = random.Random(seed)
    workdir = str(tmp_path / "run")
    cmd = u.main_cmd(workdir, *u.LONGER_FLAGS)
    kills = collections.Counter()
    counts = {"step": 40, "backup": 3, "checkpoint": 2, "metrics": 3}  # reached in most runs
    for i in range(10):
        if i % 3 == 2:  # a fault point inside training, at a random count
            point = rng.choice(sorted(counts))
            out = u.run(cmd, f"{point}:{rng.randint(1, counts[point])}")
            rc, where = out.returncode, f"at {point}"
        else:
            # The window shrinks with the epochs left: a resumed run has less to train, and a
            # moment drawn past its end let it finish with too few kills (FAULT_SEED=1796653240).
            left = u.LONGER["epochs"] - len(u.rows(workdir))
            within = 8.0 * left / u.LONGER["epochs"]
            rc, _, log = u.run_and_signal(cmd, rng, signal.SIGKILL, tmp_path / "out", within)
            where = f"random moment, {u.phase(log, u.LONGER['epochs'])}"
        if rc == 0:
            break
        assert rc == KILLED, rc
        u.check_intact(workdir)
        kills[where] += 1
    if not os.path.exists(os.path.join(workdir, "results.json")):
        for point in ("model", "results"):  # the end of the run: the final save, then results
            assert u.run(cmd, f"{point}:1").returncode == KILLED
            u.check_intact(workdir)
            kills[f"at {point}"] += 1
    print(f"FAULT_SEED={seed}: {sum(kills.values())} kills survived: {dict(kills)}")
    assert sum(kills.values()) >= 4, kills
    if not os.path.exists(os.path.join(workdir, "results.json")):
        assert u.run(cmd).returncode == 0
    u.check_continuous(workdir, **u.LONGER)
    u.check_intact(workdir)
    assert u.read_results(workdir)["steps"] == u.LONGER["total_steps"]
