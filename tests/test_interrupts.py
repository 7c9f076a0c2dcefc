"""SIGTERM and Ctrl-C: a backup at the step the run stopped, one line, exit 143 / 130, and a
rerun that resumes from exactly that step."""

import os
import random
import re
import signal
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
        assert f"resuming at step {step} " in out.stderr, out.stderr
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
    assert "resuming at step 9 " in out.stderr, out.stderr
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
    cmd = u.main_cmd(workdir, *u.LONGER_FLAGS)
    stops, expect = [], None
    for _ in range(8):
        # The window shrinks with the epochs left, as in test_faults' random SIGKILLs: a moment
        # drawn past a resumed run's end let it finish with too few stops.
        within = 8.0 * (u.LONGER["epochs"] - len(u.rows(workdir))) / u.LONGER["epochs"]
        rc, _, stderr = u.run_and_signal(cmd, rng, sig, tmp_path / "out", within)
        resumed = re.search(r"resuming at step (\d+) ", stderr)
        if resumed:  # the previous stop's step, exactly (absent if stopped before restoring)
            assert int(resumed.group(1)) == expect, (stderr, expect)
        if rc == 0:
            break
        if rc == -sig and os.path.exists(os.path.join(workdir, "results.json")):
            # Landed as the finished process exited: Python restores the default handlers
            # while it shuts down. Nothing was left to save.
            stops.append("after the run finished")
            break
        line = _check_clean_stop(rc, stderr, sig)
        u.check_intact(workdir)
        saved = STOPPED.match(line)
        expect = int(saved.group(2)) if saved else max(u.committed_backups(workdir), default=0)
        assert expect == 0 or expect in u.committed_backups(workdir)
        where = u.phase(stderr, u.LONGER["epochs"])
        stops.append(f"{where}: step {expect}" + ("" if saved else " (outside a step)"))
    print(f"seed {seed}; {len(stops)} stops by {signal.Signals(sig).name}: {stops}")
    assert len([s for s in stops if s != "after the run finished"]) >= 3, stops
    out = u.run(cmd)
    assert out.returncode == 0, out.stderr[-3000:]
    u.check_continuous(workdir, **u.LONGER)
    u.check_intact(workdir)
    assert u.read_results(workdir)["steps"] == u.LONGER["total_steps"]


def test_a_signal_swallowed_by_a_gc_callback_is_one_line_not_a_traceback(capsys):
    """Python runs a signal handler wherever it is, a garbage-collector callback included,
    where the handler's Interrupted cannot propagate and would print "Exception ignored" and a
    traceback (seen in CI: jax's _xla_gc_callback); the run stops after its next step."""
    import signal as signal_
    import sys
    import types

    from keras_resnet.errors import Interrupted
    from keras_resnet.training.interrupts import GracefulStop

    before = sys.unraisablehook
    with GracefulStop() as stop:
        stop.signum = signal_.SIGINT
        swallowed = Interrupted("Ctrl-C (SIGINT): stopped outside a training step", 130)
        sys.unraisablehook(types.SimpleNamespace(exc_value=swallowed))
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("Ctrl-C (SIGINT) arrived inside a garbage-collector callback")
    assert sys.unraisablehook is before  # other errors reach Python's own hook again
