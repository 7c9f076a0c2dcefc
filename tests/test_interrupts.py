"""SIGTERM and Ctrl-C: a backup at the step the run stopped, one line, exit 143 / 130, and a
rerun that resumes from exactly that step."""

import os
import random
import re
import signal
import subprocess
import time

import pytest

from tests import reliability_utils as u

STOPPED = re.compile(r"interrupted: (SIGTERM|Ctrl-C \(SIGINT\)): saved a backup at step (\d+) in ")
EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}


def _check_clean_stop(proc_rc, stderr, sig):
    assert proc_rc == EXIT[sig], stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    line = u.last_line(stderr)
    assert line.startswith("interrupted: ") and line.endswith("rerun the same command to resume.")
    return line


def _resume(workdir, step):
    out = u.run(u.main_cmd(workdir))
    assert out.returncode == 0, out.stderr[-3000:]
    if step:
        assert f"resuming at step {step} " in out.stdout, out.stdout
    u.check_continuous(workdir, **u.TINY)
    u.check_intact(workdir)
    assert u.read_results(workdir)["steps"] == u.TINY["total_steps"]


def _sigterm_at_step_9(workdir):
    out = u.run(u.main_cmd(workdir), "step:9:term")
    line = _check_clean_stop(out.returncode, out.stderr, signal.SIGTERM)
    assert STOPPED.match(line).groups() == ("SIGTERM", "9"), line
    assert sorted(u.committed_backups(workdir)) == [8, 9]
    assert [int(r["epoch"]) for r in u.rows(workdir)] == [1]


def test_sigterm_mid_epoch_saves_backup_and_resumes_there(tmp_path):
    """SIGTERM arrives during step 9 (between the backups of steps 8 and 12): the run saves
    step 9 and exits 143; the rerun resumes at step 9 and finishes: no step lost."""
    workdir = str(tmp_path / "run")
    _sigterm_at_step_9(workdir)
    _resume(workdir, 9)


@pytest.mark.slow
def test_sigterm_then_ctrl_c_mid_epoch_save_backups_and_resume_there(tmp_path):
    """As above, then the rerun gets Ctrl-C during its second step (step 11): it saves step 11
    and exits 130. The third run resumes at step 11 and finishes."""
    workdir = str(tmp_path / "run")
    _sigterm_at_step_9(workdir)
    out = u.run(u.main_cmd(workdir), "step:2:int")
    assert "resuming at step 9 " in out.stdout, out.stdout
    line = _check_clean_stop(out.returncode, out.stderr, signal.SIGINT)
    assert STOPPED.match(line).groups() == ("Ctrl-C (SIGINT)", "11"), line
    assert sorted(u.committed_backups(workdir)) == [9, 11]
    _resume(workdir, 11)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_at_random_times(tmp_path, sig):
    """Sends `sig` at random moments (start-up, data loading, training, the final save),
    reruns after each, and checks that every rerun resumes at the step the message named."""
    seed = int(os.environ.get("FAULT_SEED", time.time()))
    rng = random.Random(seed)
    workdir = str(tmp_path / "run")
    stops, expect = [], None
    for _ in range(8):
        proc = u.popen(u.main_cmd(workdir))
        delay = rng.uniform(4.0, 20.0)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=300)
        resumed = re.search(r"resuming at step (\d+) ", stdout)
        if resumed:  # the previous stop's step, exactly (absent if stopped before restoring)
            assert int(resumed.group(1)) == expect, (stdout, expect)
        if proc.returncode == 0:
            break
        line = _check_clean_stop(proc.returncode, stderr, sig)
        u.check_intact(workdir)
        saved = STOPPED.match(line)
        expect = int(saved.group(2)) if saved else max(u.committed_backups(workdir), default=0)
        assert expect == 0 or expect in u.committed_backups(workdir)
        stops.append((round(delay, 1), expect if saved else f"outside a step ({expect})"))
    print(f"seed {seed}; {len(stops)} stops by {signal.Signals(sig).name}: {stops}")
    assert len(stops) >= 2, stops
    _resume(workdir, None)
