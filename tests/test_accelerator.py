"""The GPU harness: `keras_resnet.bench.accelerator` (throughput) and `experiments.portable` (an
experiment table from arrays), which run on Keras' JAX backend on GPU machines that have no
TensorFlow. Here they run on JAX's CPU build, in a child process, and must not import
TensorFlow; their pure parts are checked against the TensorFlow path's own definitions."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from experiments import digits_degradation, portable, report
from keras_resnet.bench import accelerator
from keras_resnet.configs import cifar10
from keras_resnet.errors import UserError
from keras_resnet.training.callbacks import step_factor
from tests import optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@optional.needs("jax")
def test_harness_trains_and_times_on_jax_without_importing_tensorflow(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    labels = lambda n: np.arange(n, dtype=np.int32) % 10  # noqa: E731 (every class present)
    np.savez(
        data,
        x_train=rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8),
        y_train=labels(64),
        x_test=rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
        y_test=labels(16),
        flip=False,
    )
    child = textwrap.dedent(f"""
        import importlib.abc, importlib.util, json, sys

        class Absent(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            # TensorFlow as on the GPU machines: not there (any import of it fails)
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "tensorflow":
                    return importlib.util.spec_from_loader(name, self)
            def create_module(self, spec):
                raise ModuleNotFoundError(f"No module named {{spec.name!r}}", name=spec.name)
            def exec_module(self, module):
                pass

        sys.meta_path.insert(0, Absent())
        from experiments import digits_degradation, portable
        from keras_resnet.bench import accelerator
        accelerator.CELLS = (("resnet8 train bf16", "resnet8", 32, 10, 4, True, "mixed_bfloat16"),
                             ("resnet8 infer", "resnet8", 32, 10, 4, False, "float32"))
        accelerator.run({str(tmp_path)!r}, budget_s=600)
        portable.run_table(digits_degradation, ["resnet20"], ["--config.num_epochs=2"],
                           {str(data)!r}, {str(tmp_path / "runs")!r}, runs=2, budget_s=600)
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]  # an import of TensorFlow would fail it

    timed = json.loads((tmp_path / "accelerator.json").read_text())
    assert timed["environment"]["backend"] == "jax"
    assert set(timed["cells"]) == {"resnet8 train bf16", "resnet8 infer"}
    assert all(c["keras"]["images_per_s"] > 0 for c in timed["cells"].values())
    for seed in (0, 1):  # the second seed reused the first's compiled step
        run = report.read_run(str(tmp_path / "runs" / f"resnet20-seed{seed}"))
        assert run is not None and run["steps"] == 4  # 64 // 32 whole batches, 2 epochs
        assert [int(r["step"]) for r in run["rows"]] == [2, 4]
        assert 0 <= run["train_error"] <= 100 and 0 <= run["top1_error"] <= 100


def test_schedule_is_the_training_paths_step_schedule():
    config = digits_degradation.get_config("resnet56")
    total = 1320
    lr = config.learning_rate * config.batch_size / config.lr_reference_batch
    sched = portable.schedule(config, total)
    for step in range(total):
        expected = lr * step_factor(step, total, config.lr_boundaries, config.lr_decay)
        assert float(sched(step)) == pytest.approx(expected), step


def test_augment_crops_a_window_of_the_zero_padded_mean_subtracted_image():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    mean = images.astype(np.float32).mean(axis=0) / 255.0
    out = portable.augment(images, mean, np.random.default_rng(2), pad=2)
    assert out.shape == (50, 8, 8, 3)
    shifts = set()
    for image, view in zip(images, out):
        padded = np.pad(image / 255.0 - mean, ((2, 2), (2, 2), (0, 0)))
        found = [
            (t, s) for t in range(5) for s in range(5)
            if np.allclose(padded[t : t + 8, s : s + 8], view, atol=1e-6)
        ]  # fmt: skip
        assert found, "a view is not a window of its padded image"
        shifts.add(found[0])
    assert len(shifts) > 5  # random offsets, not one fixed crop


def test_refuses_what_the_harness_does_not_train():
    with pytest.raises(UserError, match=r"warmup='until_error'.*experiments.run"):
        portable.check(cifar10.get_config("resnet110"))  # the paper's warm-up (Section 4.2)
    portable.check(digits_degradation.get_config("plain56"))  # the digits table is supported


def test_reset_gives_a_fresh_run_in_the_compiled_model():
    config = digits_degradation.get_config("resnet8")
    net = portable._compiled(config, 10, total_steps=10, seed=3)
    for a, b in zip(net.get_weights(), portable._build(config, 10, 3).get_weights()):
        np.testing.assert_array_equal(a, b)  # a first run at any seed starts from that seed
    x = np.zeros((4, 32, 32, 3), np.float32)
    net.train_on_batch(x, np.arange(4))
    assert int(net.optimizer.iterations) == 1
    portable._reset(net, config, 10, seed=7)
    assert int(net.optimizer.iterations) == 0  # the schedule starts again
    assert all(not np.any(keras.ops.convert_to_numpy(v)) for v in net.optimizer.variables)
    fresh = portable._build(config, 10, 7)
    for a, b in zip(net.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_merge_keeps_first_measurement_and_markdown_reports_ratios(tmp_path):
    env = {"keras": "3", "backend": "jax", "jax": "0", "python": "3", "cpu_count": 1}
    first = {"environment": env, "cells": {
        "a": {"batch": 8, "keras": {"images_per_s": 150.0, "compile_s": 1.0}, "torch": 100.0},
    }}  # fmt: skip
    second = {"environment": env, "cells": {
        "a": {"batch": 8, "keras": {"images_per_s": 140.0, "compile_s": 1.0}, "torch": 99.0},
        "b": {"batch": 1, "keras": {"images_per_s": 5.0, "compile_s": 2.0}},
    }}  # fmt: skip
    paths = []
    for i, part in enumerate((first, second)):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(part))
    merged = accelerator.merge([str(p) for p in paths])
    assert merged["cells"]["a"]["keras"]["images_per_s"] == 150.0
    assert merged["cells"]["a"]["repeat"]["keras"]["images_per_s"] == 140.0
    text = accelerator.markdown(merged)
    assert "| a | 8 | 150 | 100 | 1.50x | 1.0 |" in text
    assert "| b | 1 | 5 | — | — | 2.0 |" in text
    assert "a: Keras 140 (first 150), PyTorch 99 (first 100)" in text
