"""The real tf.io.gfile backend, on TensorFlow's in-memory ram:// file system: a run in a ram://
workdir is interrupted, resumes and exports to ram://, all in this one process."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.configs import cifar10
from keras_resnet.errors import Interrupted
from keras_resnet.export import savedmodel
from keras_resnet.storage import atomic, faults, files
from keras_resnet.training import train


def _config():
    config = cifar10.get_config("resnet8")
    config.dataset = "digits"
    config.batch_size, config.num_epochs, config.scale = 64, 1, 0.3  # 6 steps an epoch, 7 in all
    config.backup_every_steps = 4
    return config


def test_files_on_ram(tmp_path):
    local = tmp_path / "x.txt"
    local.write_text("one")
    files.makedirs("ram://t/a")  # ram:// lists only folders made as such
    files.upload(str(local), "ram://t/a/x.txt")
    local.write_text("two")
    files.upload(str(local), "ram://t/a/x.txt")  # replaces (ram:// itself would append)
    assert files.read_text("ram://t/a/x.txt") == "two"
    assert files.listdir("ram://t") == ["a"] and files.glob("ram://t/a", "*.txt")
    atomic.atomic_write_json("ram://t/b.json", {"k": 1})
    assert atomic.read_json("ram://t/b.json") == {"k": 1}
    assert files.listdir("ram://t/nothing") == [] and not files.exists("ram://t/nothing")
    files.rmtree("ram://t")
    assert not files.exists("ram://t/b.json")


def test_train_resume_and_export_on_ram(monkeypatch):
    workdir, export_dir = "ram://run", "ram://models/digits"
    # SIGTERM at step 3, from the fault points training passes (keras_resnet.storage.faults).
    monkeypatch.setattr(faults, "_PLAN", faults.parse("step:3:term"))
    monkeypatch.setattr(faults, "_seen", {})
    with pytest.raises(Interrupted) as stopped:
        train.train_and_evaluate(_config(), workdir)
    assert stopped.value.exit_code == 143
    assert "saved a backup at step 3 in ram://run/backup" in str(stopped.value)
    assert files.exists("ram://run/backup/ckpt-00000003.json")

    monkeypatch.setattr(faults, "_PLAN", None)
    results = train.train_and_evaluate(_config(), workdir)
    assert results["steps"] == 7 and results["epochs"] == 2
    rows = train.wd.read_metrics(workdir)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [int(r["step"]) for r in rows] == [6, 7]
    assert not files.exists("ram://run/backup")  # deleted once results were written
    assert files.listdir("ram://run/tensorboard") == ["train", "validation"]

    model, pre = savedmodel.load_source(workdir)
    path = savedmodel.export_model(model, export_dir, pre, source=workdir)
    assert path == "ram://models/digits/1"
    info = json.loads(files.read_text(f"{path}/{savedmodel.EXPORT_INFO}"))
    assert info["version"] == 1 and info["model_name"] == "digits"
    assert 'base_path: "ram://models/digits"' in files.read_text(f"{export_dir}/models.config")
    served = tf.saved_model.load(path)
    images = np.zeros((2, 32, 32, 3), "float32")
    probabilities = served.signatures["predict_images"](images=tf.constant(images))
    assert probabilities["probabilities"].shape == (2, 10)
    assert savedmodel.next_version(export_dir) == 2
