"""SIGKILL at named points (KERAS_RESNET_FAULT) and at random times, then a rerun.

After every kill: no file under a final name is half-written. After the last rerun: the run
completed, metrics.csv holds each epoch once, and the step count is the configured one.
"""

import collections
import os
import random
import signal
import subprocess
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
        assert f"resuming at step {expect_resume_step} " in out.stdout, out.stdout
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
        ("checkpoint:3", 6),  # the second epoch's checkpoints
        ("metrics:3", 6),  # mid-write of metrics.csv, epoch 2's row
        ("model:1", 13),  # mid-write of the final model.keras
        ("results:1", 13),  # mid-write of results.json
    ],
)
def test_sigkill_at_each_phase_then_resume(tmp_path, fault, resume_step):
    workdir = str(tmp_path / "run")
    _kill_at(workdir, fault)
    _finish(workdir, expect_resume_step=resume_step)


def _phase(stdout: str) -> str:
    """Where a run was when killed, from what it had printed."""
    if " on digits: " not in stdout:
        return "start-up"
    if f"epoch {u.TINY['epochs']}/{u.TINY['epochs']} " not in stdout:
        return "training"
    return "final save and evaluation"


@pytest.mark.slow
def test_random_sigkills_until_done(tmp_path):
    """Kills at random moments and at random fault points, rerunning after each, until a run
    completes; FAULT_SEED=<seed> replays a sequence."""
    seed = int(os.environ.get("FAULT_SEED", time.time()))
    rng = random.Random(seed)
    workdir = str(tmp_path / "run")
    kills = collections.Counter()
    for _ in range(14):
        if rng.random() < 0.5:  # a fault point that the rest of the run will most likely reach
            point = rng.choice(["step", "backup", "checkpoint", "metrics", "model", "results"])
            fault = f"{point}:{rng.randint(1, 2)}"
            out = u.run(u.main_cmd(workdir), fault)
            rc, where = out.returncode, f"at {point}"
        else:  # a moment anywhere from start-up to the end (a run takes ~10-25 s)
            proc = u.popen(u.main_cmd(workdir))
            try:
                proc.wait(timeout=rng.uniform(2.0, 25.0))
            except subprocess.TimeoutExpired:
                proc.kill()
            stdout, _ = proc.communicate()
            rc, where = proc.returncode, f"random time, {_phase(stdout)}"
        if rc == 0:
            break
        assert rc == KILLED, rc
        u.check_intact(workdir)
        kills[where] += 1
    print(f"FAULT_SEED={seed}: {sum(kills.values())} kills survived: {dict(kills)}")
    assert sum(kills.values()) >= 4, kills
    if not os.path.exists(os.path.join(workdir, "results.json")):
        _finish(workdir)
    u.check_continuous(workdir, **u.TINY)
    u.check_intact(workdir)
    assert u.read_results(workdir)["steps"] == u.TINY["total_steps"]
