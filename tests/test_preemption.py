"""Preemption as TFJob runs it: two worker processes on 127.0.0.1 with TF_CONFIG, the real
keras-resnet-train command, resnet8 on 30% of digits (6 steps an epoch, 13 in all; a backup every
2 steps). SIGTERM to both: exit 143, each with a committed backup of the same step. kill -9 of one
mid-epoch: the other exits 138 (lost peer, retry), and both restarted with the same TF_CONFIG
finish with every epoch once, the step count exact and the same weights on both."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_resnet.training import backups
from tests import reliability_utils as u

FLAGS = (
    "--config.batch_size=64",
    "--config.num_epochs=2",
    "--config.scale=0.3",
    "--config.backup_every_steps=2",
    "--strategy=multi_worker",
)
STOPPED = "interrupted: SIGTERM: saved a backup at step "


def _committed(workdir) -> list[int]:
    """Steps of the committed generations (read while the workers may be writing others)."""
    store = backups.BackupStore(os.path.join(workdir, "backup"))
    steps = []
    for step in store.steps():
        try:
            steps.append(store.check(os.path.join(store.directory, f"ckpt-{step:08d}.weights.h5")))
        except (backups.CorruptBackup, OSError):
            pass  # not committed yet, or rotated away while we looked
    return steps


class Job:
    """Two workers of one TFJob-style job (no chief: worker 0 writes the workdir)."""

    def __init__(self, tmp_path):
        self.workdir = str(tmp_path / "run")
        self.dirs = [self.workdir, os.path.join(self.workdir, "worker1")]
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        cluster = {"worker": [f"127.0.0.1:{p}" for p in u.free_ports(2)]}
        self.tf_configs = [
            json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(2)
        ]
        self.starts = 0

    def start(self):
        self.starts += 1
        self.procs, self.files = [], []
        for i, tf_config in enumerate(self.tf_configs):
            log = open(self.logs / f"start{self.starts}-worker{i}.log", "w+")
            self.files.append(log)
            self.procs.append(
                subprocess.Popen(
                    u.main_cmd(self.workdir, *FLAGS),
                    cwd=u.ROOT,
                    env={**u.ENV, "TF_CONFIG": tf_config},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )

    def wait(self, timeout=240) -> list[tuple[int, str]]:
        out = []
        for proc, log in zip(self.procs, self.files):
            try:
                proc.wait(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
            log.seek(0)
            out.append((proc.returncode, log.read()))
            log.close()
        return out

    def wait_for_backup(self, step, timeout=240):
        """Until both workers committed a generation of `step` or later."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(max(_committed(d), default=0) >= step for d in self.dirs):
                return
            assert all(p.poll() is None for p in self.procs), self.wait(1)
            time.sleep(0.05)
        raise AssertionError(f"no backup of step {step} within {timeout}s: {self.wait(1)}")


def test_sigterm_to_both_workers_exits_143_with_a_committed_backup(tmp_path):
    job = Job(tmp_path)
    job.start()
    job.wait_for_backup(2)
    for proc in job.procs:
        proc.send_signal(signal.SIGTERM)
    results = job.wait()
    steps = []
    for rc, out in results:
        assert rc == 143, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        line = u.last_line(out)
        assert line.startswith(STOPPED), line
        steps.append(int(line[len(STOPPED) :].split()[0]))
    assert steps[0] == steps[1] >= 2  # the workers agreed on the step they stopped after
    for d in job.dirs:
        assert max(u.committed_backups(d)) == steps[0]
        u.check_intact(d)


@pytest.mark.slow
def test_kill_9_one_worker_mid_epoch_then_restart_both(tmp_path):
    job = Job(tmp_path)
    job.start()
    job.wait_for_backup(4)  # inside epoch 1 (steps 1-6)
    job.procs[1].send_signal(signal.SIGKILL)
    (rc0, out0), (rc1, _) = job.wait(timeout=120)
    assert rc1 == -signal.SIGKILL
    # The survivor's next all-reduce fails: one line, and the status TFJob retries.
    assert rc0 == 138, out0[-3000:]
    assert u.last_line(out0).startswith("keras-resnet-train: error: transient, retry: "), out0[
        -3000:
    ]
    resumable = [max(u.committed_backups(d)) for d in job.dirs]

    job.start()  # as TFJob does: the same TF_CONFIG, every worker restarted
    results = job.wait()
    for rc, out in results:
        assert rc == 0, out[-3000:]
        # Both resume at the newest step both had committed.
        assert f"resuming at step {min(resumable)} " in out, (resumable, out[-3000:])
    for d in job.dirs:
        rows = u.rows(d)
        assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # every epoch once
        assert [int(r["step"]) for r in rows] == [6, 12, 13]  # no step lost or repeated
        assert u.read_results(d)["steps"] == 13
        u.check_intact(d)
    models = [keras.models.load_model(os.path.join(d, "model.keras")) for d in job.dirs]
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_array_equal(a, b)


if __name__ == "__main__":  # for a look at the logs: python -m tests.test_preemption DIR
    sys.exit(pytest.main([__file__, "-m", "slow or not slow", "--basetemp", sys.argv[1]]))
