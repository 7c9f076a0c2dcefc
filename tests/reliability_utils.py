"""Shared by the fault, signal and disk-full tests: the command users run, and the checks that
a workdir is intact (no half-written file under a final name) and its metrics continuous."""

from __future__ import annotations

import csv
import glob
import json
import os
import re
import socket
import subprocess
import sys
import zipfile

import h5py

from keras_resnet.storage import faults
from keras_resnet.training import backups, recording

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
ENV.pop(faults.ENV, None)

# resnet8 on 30% of digits at batch 64: 6 steps an epoch, 13 steps in 3 epochs (the last cut
# short), a backup every 4 steps: backups at steps 4, 6, 8, 12, 13 (epoch ends included).
TINY = dict(steps_per_epoch=6, total_steps=13, epochs=3)
TINY_FLAGS = (
    "--config.batch_size=64",
    "--config.num_epochs=2",
    "--config.scale=0.3",
    "--config.backup_every_steps=4",
)


def main_cmd(workdir, *flags):
    return [
        sys.executable,
        "-m",
        "keras_resnet.cli.train",
        "--config=keras_resnet/configs/cifar10.py:resnet8",
        f"--workdir={workdir}",
        "--config.dataset=digits",
        *(flags or TINY_FLAGS),
    ]


def run(cmd, fault=None, timeout=300):
    """Runs `cmd` to its end, with KERAS_RESNET_FAULT=fault if given."""
    env = {**ENV, faults.ENV: fault} if fault else ENV
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def popen(cmd, fault=None):
    env = {**ENV, faults.ENV: fault} if fault else ENV
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def rows(workdir):
    path = os.path.join(workdir, "metrics.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def committed_backups(workdir) -> dict[int, str]:
    """{step: path} of the backup generations whose manifest and checksum hold."""
    store = backups.BackupStore(os.path.join(workdir, "backup"))
    return {store.check(p): p for p in glob.glob(f"{store.directory}/ckpt-????????.weights.h5")}


def check_intact(workdir):
    """Every file under a final name is whole: backups match their manifest (or, renamed but
    not yet committed, open as HDF5), .keras zips pass their CRCs, CSV and JSON parse."""
    backup_dir = os.path.join(workdir, "backup")
    store = backups.BackupStore(backup_dir)
    for path in glob.glob(f"{backup_dir}/ckpt-????????.weights.h5"):
        if os.path.exists(path[: -len(".weights.h5")] + ".json"):
            store.check(path)  # raises CorruptBackup
        else:
            h5py.File(path, "r").close()
    for path in glob.glob(f"{workdir}/**/*.keras", recursive=True):
        if not os.path.basename(path).startswith(".tmp-"):
            with zipfile.ZipFile(path) as z:
                assert z.testzip() is None, path
    for name in ("config.json", "results.json", "schedule_state.json"):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path) as f:
                json.load(f)
    metrics = os.path.join(workdir, "metrics.csv")
    if os.path.exists(metrics):
        with open(metrics) as f:
            text = f.read()
        assert text.endswith("\n"), "metrics.csv ends mid-line"
        assert text.splitlines()[0].split(",") == recording.FIELDS
        for r in csv.DictReader(text.splitlines()):
            assert None not in r and all(r[k] is not None for k in recording.FIELDS), r


def check_continuous(workdir, steps_per_epoch, total_steps, epochs):
    """metrics.csv holds epochs 1..epochs once each, each ending at its expected step."""
    got = rows(workdir)
    assert [int(r["epoch"]) for r in got] == list(range(1, epochs + 1)), got
    expected = [min((e + 1) * steps_per_epoch, total_steps) for e in range(epochs)]
    assert [int(r["step"]) for r in got] == expected


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def read_results(workdir):
    with open(os.path.join(workdir, "results.json")) as f:
        return json.load(f)


# For the random-time tests: a longer run (all of digits at batch 32, 44 steps an epoch, 220
# steps, a backup every 5), so that a random moment lands in training more often than not.
LONGER = dict(steps_per_epoch=44, total_steps=220, epochs=5)
LONGER_FLAGS = ("--config.batch_size=32", "--config.num_epochs=5", "--config.backup_every_steps=5")


def phase(log: str, epochs: int) -> str:
    """Where a run was when it stopped, from its log (stderr)."""
    if " on digits: " not in log:
        return "start-up"
    # The last epoch's summary line (its progress lines carry no error rates).
    if not re.search(rf"epoch {epochs}/{epochs} step \d+/\d+ \| loss \S+ \| top-1 err", log):
        return "training"
    return "final save and evaluation"


def run_and_signal(cmd, rng, sig, outfile, within: float = 8.0):
    """Starts `cmd` and sends `sig` at a random moment: one time in five during start-up,
    otherwise 0-`within` s after training begins (a whole run trains for about 10 s). Returns
    (returncode, stdout, stderr); the log ("resuming at step N", progress) is stderr."""
    with open(outfile, "w+") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.PIPE)
        lines = []
        if rng.random() < 0.2:
            wait = rng.uniform(0.5, 6.0)
        else:
            wait = rng.uniform(0.0, within)
            for raw in proc.stderr:  # until training is about to start (or the run ended)
                lines.append(raw.decode())
                if " on digits: " in lines[-1]:
                    break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
        lines.append(proc.stderr.read().decode())
        proc.wait()
        out.seek(0)
        return proc.returncode, out.read(), "".join(lines)


def free_ports(n: int) -> list[int]:
    """`n` distinct free TCP ports on 127.0.0.1, for the workers of a local cluster."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def backup_model():
    """The smallest model a BackupStore can hold: weights and an optimizer step counter."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def at_step(model, step):
    """The model as training would leave it at `step`: its own weights and counter."""
    import numpy as np

    model.optimizer.iterations.assign(step)
    model.layers[0].kernel.assign(np.full((4, 3), float(step), "float32"))
    return model
