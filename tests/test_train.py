"""train_and_evaluate end to end on tiny runs: outputs, reruns, NaN, evaluation modes."""

import csv
import json
import os
import re

import keras
import pytest

from keras_resnet.configs import base, cifar10
from keras_resnet.errors import UserError
from keras_resnet.evaluation import evaluate
from keras_resnet.training import callbacks as cb
from keras_resnet.training import train


def tiny_config(**overrides):
    config = cifar10.get_config("resnet8")
    config.dataset = "digits"
    config.batch_size = 64
    config.num_epochs = 2
    config.scale = 0.3  # 432 training images: 6 steps an epoch, 13 steps in all
    config.backup_every_steps = 4
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("run"))
    results = train.train_and_evaluate(tiny_config(), workdir)
    return workdir, results


def _snapshot(workdir):
    out = {}
    for root, _, files in os.walk(workdir):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[p] = fh.read()
    return out


def test_outputs(trained):
    workdir, results = trained
    for name in ("config.json", "metrics.csv", "mean.npy", "model.keras", "results.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
    # No validation split: the per-epoch "val" numbers are the test set's, so no best.keras.
    assert os.listdir(os.path.join(workdir, "checkpoints")) == ["last.keras"]
    with pytest.raises(UserError, match="test-set selection"):
        evaluate.evaluate(workdir, checkpoint="best")
    assert any(f.startswith("events") for _, _, fs in os.walk(workdir + "/tensorboard") for f in fs)
    assert not os.path.exists(os.path.join(workdir, "backup"))  # removed once results exist
    with open(os.path.join(workdir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [int(r["step"]) for r in rows] == [6, 12, 13]  # the last epoch is cut at 13 steps
    for r in rows:
        for key in ("loss", "top1_error", "top5_error", "val_top1_error", "val_top5_error"):
            assert r[key] != ""
        assert 0 <= float(r["val_top1_error"]) <= 100 and float(r["images_per_sec"]) > 0
    # lr 0.1 x 64/128, divided by 10 at half and three quarters of the 13 steps.
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([0.05, 0.0005, 0.0005])
    saved = json.load(open(os.path.join(workdir, "results.json")))
    assert saved == results
    assert results["steps"] == 13 and results["epochs"] == 3 and results["images_per_sec"] > 0
    assert 0 <= results["top5_error"] <= results["top1_error"] <= 100
    config = json.load(open(os.path.join(workdir, "config.json")))
    assert config["model"] == "resnet8" and config["weight_decay"] == 1e-4
    model = keras.models.load_model(os.path.join(workdir, "model.keras"))
    assert model.output.dtype == "float32"


def test_rerun_same_config_does_not_retrain(trained):
    workdir, results = trained
    before = _snapshot(workdir)
    assert train.train_and_evaluate(tiny_config(), workdir) == results
    assert _snapshot(workdir) == before


def test_rerun_with_other_config_is_refused_and_writes_nothing(trained):
    workdir, _ = trained
    before = _snapshot(workdir)
    with pytest.raises(UserError, match="different config.*batch_size: 64 -> 32"):
        train.train_and_evaluate(tiny_config(batch_size=32), workdir)
    assert _snapshot(workdir) == before


def test_evaluate_modes(trained):
    workdir, results = trained
    center = evaluate.evaluate(workdir, "center")
    assert center["top1_error"] == pytest.approx(results["top1_error"], abs=1e-3)
    assert center["images"] == results["test_images"]
    for mode in ("10crop", "multiscale"):
        r = evaluate.evaluate(workdir, mode)
        assert 0 <= r["top5_error"] <= r["top1_error"] <= 100
        assert os.path.exists(os.path.join(workdir, f"eval_{mode}.json"))


def test_user_errors_before_anything_is_written(tmp_path):
    cases = {
        "resnet7": tiny_config(model="resnet7"),
        "unknown dataset": tiny_config(dataset="mnist"),
        "manual_dir": tiny_config(dataset="imagenet2012", data={"data_dir": str(tmp_path)}),
        "scale": tiny_config(scale=2.0),
        # The plateau schedule would read the test set without a held-out split.
        "plateau.*val_split=0": tiny_config(lr_schedule="plateau"),
    }
    for pattern, config in cases.items():
        workdir = tmp_path / re.sub(r"\W+", "_", pattern)
        with pytest.raises(UserError, match=pattern):
            train.train_and_evaluate(config, str(workdir))
        assert not workdir.exists()


def test_nan_loss_stops_with_clear_message(tmp_path):
    config = tiny_config(learning_rate=1e12, num_epochs=3)
    with pytest.raises(cb.TrainingDiverged, match="loss became (nan|inf).*last good checkpoint"):
        train.train_and_evaluate(config, str(tmp_path))
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "model.keras").exists()


def test_nan_mid_run_keeps_the_last_good_checkpoint_and_backup(tmp_path):
    """docs/training.md: "A NaN loss stops the run and keeps the last good checkpoint." The
    loss turns non-finite mid-run, in epoch 2, through the schedule: lr x 1e30 from 70% of the
    13 steps (step 9), so step 10's update blows the weights up and step 11's loss is inf/NaN.
    Before that: backups at steps 4, 6, 8 (two kept) and last.keras at epoch 1's end."""
    import numpy as np

    from keras_resnet.training import backups
    from tests import reliability_utils as ru

    workdir = str(tmp_path / "run")
    cmd = ru.main_cmd(
        workdir, *ru.TINY_FLAGS, "--config.lr_boundaries=(0.7,)", "--config.lr_decay=1e30"
    )
    proc = ru.run(cmd)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert [line for line in lines if "error:" in line] == lines[-1:]
    assert re.match(
        r"keras-resnet-train: error: loss became (nan|inf) at step 11; training stopped and the last good "
        rf"checkpoint is kept in {re.escape(workdir)}/checkpoints\.",
        lines[-1],
    ), lines[-1]
    assert not os.path.exists(os.path.join(workdir, "results.json"))
    assert not os.path.exists(os.path.join(workdir, "model.keras"))
    rows = ru.rows(workdir)  # epoch 1 only; the diverged epoch 2 left no row
    assert [(r["epoch"], r["step"]) for r in rows] == [("1", "6")]
    assert np.isfinite(float(rows[0]["loss"]))
    ru.check_intact(workdir)

    def finite(model):
        return all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)

    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    last = keras.models.load_model(os.path.join(workdir, "checkpoints", "last.keras"))
    assert finite(last) and np.isfinite(last.predict(x, verbose=0)).all()
    # The backups: both generations intact, the newest from step 8, before the blow-up.
    assert sorted(ru.committed_backups(workdir)) == [6, 8]
    config = tiny_config()
    model = train.build_model(config, train.validate(config), 10, (32, 32, 3))
    model.optimizer.build(model.trainable_variables)
    assert backups.BackupStore(os.path.join(workdir, "backup")).restore(model) == 8
    assert finite(model) and np.isfinite(model.predict(x, verbose=0)).all()


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_keeps_float32_logits_and_loss(precision):
    config = tiny_config(precision=precision)
    keras.mixed_precision.set_dtype_policy(base.DTYPE_POLICIES[precision])
    try:
        model = train.build_model(config, train.validate(config), 10, (32, 32, 3))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("stem_conv").compute_dtype == precision
    assert model.output.dtype == "float32"
    if precision == "float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = keras.random.normal((4, 32, 32, 3))
    logs = model.train_on_batch(x, keras.ops.arange(4), return_dict=True)
    assert all(keras.ops.isfinite(v) for v in logs.values())


def test_best_checkpoint_is_chosen_on_the_validation_split_only(tmp_path):
    config = tiny_config(num_epochs=1)
    config.data.val_split = 100
    train.train_and_evaluate(config, str(tmp_path))
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["best.keras", "last.keras"]
    assert evaluate.evaluate(str(tmp_path), checkpoint="best")["images"] > 0
