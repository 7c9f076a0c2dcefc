"""tf.distribute: Mirrored on 2 logical CPUs matches one device; two workers stay in sync."""

import json
import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest

from keras_resnet.errors import UserError
from keras_resnet.training import distribute
from tests import reliability_utils as u

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}

# Runs in a fresh process: logical CPUs must be configured before TensorFlow starts.
MIRRORED_VS_ONE_DEVICE = """
import json
from keras_resnet.cli import common as cli
from keras_resnet.cli import startup
startup.quiet_tensorflow()
from keras_resnet.training import distribute
distribute.configure_virtual_cpus(2)
import keras, numpy as np, tensorflow as tf
from keras_resnet.configs import cifar10
from keras_resnet.training import train

config = cifar10.get_config("resnet8")
config.batch_size = 16
spec = train.validate(config)
rng = np.random.default_rng(0)
half = rng.normal(size=(4, 8, 32, 32, 3)).astype("float32")
labels = rng.integers(0, 10, (4, 8))
# Each global batch is two copies of 8 images. Mirrored gives each replica one copy, so the
# per-replica BN batch statistics equal the single device's, and any difference left comes
# from how gradients are split and summed across replicas, which is what is under test.
ds = tf.data.Dataset.from_tensor_slices(
    (np.concatenate([half, half], 1), np.concatenate([labels, labels], 1))
)

def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = train.build_model(config, spec, 10, (32, 32, 3))
    start = [w.copy() for w in model.get_weights()]
    model.fit(ds, epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)
    return strategy.num_replicas_in_sync, start, model.get_weights()

n1, s1, one = run(distribute.get_strategy("one_device"))
n2, s2, two = run(distribute.get_strategy("mirrored"))
print(json.dumps({
    "replicas": [n1, n2],
    "same_start": all(np.array_equal(a, b) for a, b in zip(s1, s2)),
    "moved": max(float(np.abs(a - b).max()) for a, b in zip(one, s1)),
    "diff": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
}))
"""


def test_mirrored_on_two_virtual_cpus_matches_one_device():
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED_VS_ONE_DEVICE],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["replicas"] == [1, 2] and r["same_start"]
    assert r["moved"] > 1e-2  # four SGD steps at lr 0.1 changed the weights
    # ...and the same way up to float32 summation order, which BN's batch statistics amplify a
    # little over four steps: a gradient summed instead of averaged would differ by ~moved.
    assert r["diff"] < 2e-3 and r["diff"] < 1e-2 * r["moved"], r


def test_global_batch_must_divide_by_replicas():
    two = types.SimpleNamespace(num_replicas_in_sync=2)
    assert distribute.check_global_batch(128, two) == 64
    with pytest.raises(UserError, match="batch_size 129 does not divide by the 2 replicas"):
        distribute.check_global_batch(129, two)


def test_strategy_names(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert type(distribute.get_strategy("auto")).__name__ == "OneDeviceStrategy"
    with pytest.raises(UserError, match="unknown strategy 'gpu'"):
        distribute.get_strategy("gpu")
    with pytest.raises(UserError, match="needs TF_CONFIG"):
        distribute.get_strategy("multi_worker")


@pytest.mark.slow
def test_multi_worker_mirrored_two_local_workers(tmp_path):
    workdir = tmp_path / "mw"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in u.free_ports(2)]}
    cmd = [
        sys.executable,
        "-m",
        "keras_resnet.cli.train",
        "--config=keras_resnet/configs/cifar10.py:resnet8",
        f"--workdir={workdir}",
        "--config.dataset=synthetic",
        "--config.batch_size=32",
        "--config.num_epochs=1",
        "--config.scale=0.02",  # 200 synthetic images: 6 steps
        "--strategy=multi_worker",
    ]
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**ENV, "TF_CONFIG": tf_config},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    chief = keras.models.load_model(workdir / "model.keras")
    other = keras.models.load_model(workdir / "worker1" / "model.keras")
    for a, b in zip(chief.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    results = json.load(open(workdir / "results.json"))
    assert results["steps"] == 6
    assert "2 replica(s)" in outs[0]
