"""Fine-tuning in the trainer (issue 21, item 5): init_from a weights file, a frozen backbone
on an image folder of generated PNGs. Every frozen weight and BN moving statistic comes out
bit-identical, the frozen kernels leave the L2 term, the head improves on the one it started
from, the pipeline feeds raw pixels to weights that normalise their own, and the workdir
exports and serves with the folder's class names."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_resnet
from keras_resnet import weights
from keras_resnet.cli import export as export_cli
from keras_resnet.configs import finetune
from keras_resnet.hub import catalog
from keras_resnet.models import preprocess_layer, registry
from keras_resnet.training import train, transfer

CLASSES = ("apple", "banana", "cherry")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train/ and val/ with one subfolder per class; each class has its own colour."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    colours = np.array([[200, 40, 40], [220, 200, 40], [90, 20, 140]])
    for split, n in (("train", 16), ("val", 6)):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = colours[c] + rng.normal(0, 30, (24, 24, 3))
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                image.save(root / split / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A resnet8 'pretrained' elsewhere: 10 classes, its own input normalisation, and BN
    statistics far from their initial values. Seeded here: the same backbone in any order."""
    keras.utils.set_random_seed(1)
    model = keras_resnet.create_model("resnet8")
    preprocess_layer.set_input_normalization(model, (127.0, 120.0, 110.0), (64.0, 60.0, 62.0))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.8, 1.25, layer.moving_variance.shape))
    path = tmp_path_factory.mktemp("pre") / "resnet8.weights.h5"
    model.save_weights(path)
    return model, str(path)


def _config(folder, init_from, **overrides):
    config = finetune.get_config("resnet8")
    config.dataset = f"image_folder:{folder}"
    config.init_from = init_from
    config.batch_size = 8
    config.lr_reference_batch = 8
    config.num_epochs = 6
    config.backup_every_steps = 1000
    config.progress_every_s = 0
    config.update(overrides)
    return config


def test_frozen_backbone_fine_tune(folder, pretrained, tmp_path):
    donor, path = pretrained
    start = train.train_and_evaluate(
        _config(folder, path, learning_rate=0.0), str(tmp_path / "start")
    )
    workdir = str(tmp_path / "tuned")
    tuned = train.train_and_evaluate(_config(folder, path, learning_rate=0.001), workdir)
    # The same seed starts both runs from the same fresh head; only the trained one moved.
    assert tuned["test_loss"] < start["test_loss"]
    assert tuned["top1_error"] < start["top1_error"]

    model = keras.models.load_model(os.path.join(workdir, "model.keras"), safe_mode=True)
    assert model.get_layer("logits").units == len(CLASSES)
    for layer in model.layers:  # kernels, BN gamma/beta and moving statistics, bit for bit
        if layer.weights and layer.name != "logits":
            for a, b in zip(layer.get_weights(), donor.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b, err_msg=layer.name)
    # The weights normalise their own input: raw pixels were fed, no per-pixel mean.
    assert preprocess_layer.takes_raw_pixels(model)
    assert not os.path.exists(os.path.join(workdir, "mean.npy"))

    # Phase 2, from phase 1's workdir: the top stage's convs train, BN stays frozen.
    top = str(tmp_path / "top")
    phase2 = _config(folder, workdir, learning_rate=0.0001, unfreeze_stages=1, num_epochs=1)
    train.train_and_evaluate(phase2, top)
    second = keras.models.load_model(os.path.join(top, "model.keras"), safe_mode=True)
    assert preprocess_layer.takes_raw_pixels(second)  # the workdir's normalisation carried on
    changed = set()
    for layer in second.layers:
        if layer.weights and layer.name != "logits":
            before = donor.get_layer(layer.name).get_weights()
            if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), before)):
                changed.add(layer.name)
    assert changed and all(n.startswith("stage3_") and "_conv" in n for n in changed), changed

    export_dir = tmp_path / "export"
    assert export_cli.main([workdir, f"--export_dir={export_dir}"]) == 0
    served = tf.saved_model.load(str(export_dir / "1"))
    image = np.full((1, 32, 32, 3), (200, 40, 40), np.uint8)
    out = served.signatures["predict_images"](images=tf.constant(image, tf.float32))
    names = [n.decode() for n in out["class_names"].numpy()]
    assert names == ["apple"]  # the folder's class names; the red class


def test_frozen_kernels_leave_l2_and_bn_runs_in_inference(pretrained):
    _, path = pretrained
    config = finetune.get_config("resnet8")
    config.init_from = path
    spec = registry.get_spec("resnet8")
    model = train.build_model(config, spec, len(CLASSES), (32, 32, 3))
    assert [w.path for w in model.trainable_weights] == ["logits/kernel", "logits/bias"]
    assert len(model.losses) == 1  # the head's kernel only
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    bn = next(la for la in model.layers if isinstance(la, keras.layers.BatchNormalization))
    before = bn.moving_mean.numpy().copy()
    model.train_on_batch(x, np.array([0, 1, 2, 0]))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_unfreeze_top_stage_keeps_bn_frozen():
    model = keras_resnet.create_model("resnet8", weight_decay=1e-4)
    trainable = transfer.freeze_backbone(model, unfreeze_stages=1)
    assert "logits" in trainable and "stage3_block1_conv1" in trainable
    assert not any(n.startswith(("stage2", "stem")) or "_bn" in n for n in trainable)
    with pytest.raises(ValueError, match="unfreeze_stages must be in \\[0, 3\\]"):
        transfer.freeze_backbone(model, unfreeze_stages=4)


def test_bad_init_from_refused_before_writing(folder, tmp_path, monkeypatch):
    from keras_resnet.errors import UserError

    workdir = tmp_path / "never"
    with pytest.raises(UserError, match="config.init_from.*'nope.weights.h5'"):
        train.train_and_evaluate(_config(folder, "nope.weights.h5"), str(workdir))
    assert not workdir.exists() or not os.listdir(workdir)
    # A registered tag that cannot be fetched (offline, not cached) refuses the run too.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_RESNET_OFFLINE", "1")
    monkeypatch.setattr(catalog, "_SPECS", dict(catalog._SPECS))
    weights.register(
        "resnet8.acme", url="http://h.invalid/r8.weights.h5", file_hash="ab" * 16, model="resnet8"
    )
    with pytest.raises(UserError, match="'resnet8.acme' are not cached"):
        train.train_and_evaluate(_config(folder, "resnet8.acme"), str(workdir))
    assert not workdir.exists() or not os.listdir(workdir)


def test_eval_view_follows_the_weights():
    config = finetune.get_config("resnet50")
    config.init_from = "resnet50.tv2_in1k"
    train.validate(config)  # resolves eval_resize=0, downloads nothing
    assert (config.data.eval_resize, config.data.image_size) == (232, 224)
    config = finetune.get_config("resnet50")
    config.init_from = None
    train.validate(config)
    assert config.data.eval_resize == 256


def test_workdir_recorded_before_the_fine_tuning_keys_still_resumes(tmp_path):
    import json

    from keras_resnet.configs import cifar10
    from keras_resnet.errors import UserError
    from keras_resnet.training import workdir as wd

    config = cifar10.get_config("resnet8").to_dict()
    old = {k: v for k, v in config.items() if k not in ("init_from", "freeze_backbone")}
    old.pop("unfreeze_stages")
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert wd.check_config(str(tmp_path), config)  # the same run
    with pytest.raises(UserError, match="freeze_backbone"):  # a fine-tune is another run
        wd.check_config(str(tmp_path), {**config, "freeze_backbone": True})
