"""The command line as users run it, in subprocesses: SIGKILL and resume, one-line errors."""

import csv
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.reliability_utils import main_cmd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def _main_cmd(workdir, *extra):
    return main_cmd(workdir, "--config.batch_size=32", *extra)


def _rows(workdir):
    path = os.path.join(workdir, "metrics.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def _one_line_error(proc, pattern):
    """Refused before start-up logging begins: stderr is the error line and nothing else."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(rf"keras-resnet-train: error: .*{pattern}", lines[0]), (
        proc.stderr
    )


def test_resume_after_sigkill_mid_epoch(tmp_path):
    # 1437 digits at batch 32: 44 steps an epoch, 4 epochs; a backup every 5 steps.
    workdir = str(tmp_path / "run")
    cmd = _main_cmd(workdir, "--config.num_epochs=4", "--config.backup_every_steps=5")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 240
    while len(_rows(workdir)) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert len(_rows(workdir)) == 1, "the first epoch never ended"

    # Wait for a backup inside epoch 2 (a committed generation: its manifest), then kill
    # without warning.
    def in_epoch_2():
        names = os.listdir(os.path.join(workdir, "backup"))
        return [n for n in names if re.fullmatch(r"ckpt-000000(4[5-9]|[5-7]\d|8[0-7])\.json", n)]

    while not in_epoch_2() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(_rows(workdir)) == 1

    # Another progress interval changes the log only: the rerun still resumes this run.
    rerun = [*cmd, "--config.progress_every_s=0.5"]
    out = subprocess.run(rerun, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    step = int(re.search(r"resuming at step (\d+) \(epoch 2/4\)", out.stderr).group(1))
    assert 44 < step < 88  # restored inside epoch 2, not at its start
    rows = _rows(workdir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]  # none repeated, none lost
    assert [int(r["step"]) for r in rows] == [44, 88, 132, 176]
    assert "top-1 error" in out.stdout and os.path.exists(os.path.join(workdir, "results.json"))

    # The same workdir with another config: refused in one line, the finished run untouched.
    before = {f: os.path.getmtime(os.path.join(workdir, f)) for f in os.listdir(workdir)}
    other = [a if a != "--config.batch_size=32" else "--config.batch_size=16" for a in cmd]
    out = subprocess.run(other, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    _one_line_error(out, "different config .*batch_size: 32 -> 16")
    assert {f: os.path.getmtime(os.path.join(workdir, f)) for f in os.listdir(workdir)} == before


def test_cli_user_errors_are_one_line(tmp_path):
    def run(cmd):
        return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)

    launch = [sys.executable, "-m", "keras_resnet.cli.train", f"--workdir={tmp_path}/x"]
    _one_line_error(run([*launch, "--model=resnet7"]), "Unknown model 'resnet7'")
    _one_line_error(
        run([*launch, "--model=resnet8", "--config=experiments/cifar10.py:resnet8"]),
        "give --model=resnet8 or --config=FILE, not both",
    )
    _one_line_error(run([*launch, "--model=resnet8", "--config.batch_sise=3"]), "batch_sise")
    _one_line_error(
        run(_main_cmd(tmp_path / "y", "--config.dataset=mnist")), "unknown dataset 'mnist'"
    )
    _one_line_error(
        run(
            _main_cmd(
                tmp_path / "z",
                "--config.dataset=imagenet2012",
                f"--config.data.data_dir={tmp_path}",
            )
        ),
        "manual_dir=",
    )
    _one_line_error(
        run(
            _main_cmd(
                tmp_path / "w",
                "--config.batch_size=33",
                "--config.num_epochs=1",
                "--virtual_cpus=2",
                "--strategy=mirrored",
            )
        ),
        "batch_size 33 does not divide by the 2 replicas",
    )
    for d in "xyzw":
        assert not (tmp_path / d).exists()  # nothing was written


@pytest.mark.slow
def test_make_train_digits_reaches_low_error(tmp_path):
    """The README's offline example: resnet20, 30 epochs on digits, a few minutes on 2 cores."""
    workdir = tmp_path / "digits"
    out = subprocess.run(
        ["make", "train", "MODEL=resnet20", "DATASET=digits", "EPOCHS=30", f"WORKDIR={workdir}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    results = json.load(open(workdir / "results.json"))
    assert results["top1_error"] < 3.0 and results["epochs"] == 30 and results["steps"] == 330
