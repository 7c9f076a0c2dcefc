"""Class names travel with the model, and export sees images as evaluation does (issue 13,
items 3 and 4): every dataset kind names its classes, training records them, the served model
returns them; `keras-resnet-eval` and the exported graph give the same probabilities on the
same image file."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_resnet
from keras_resnet import data
from keras_resnet.cli import export as export_cli
from keras_resnet.configs import cifar10, imagenet
from keras_resnet.evaluation import evaluate
from keras_resnet.export.served_inputs import from_workdir
from keras_resnet.imaging.classes import dataset_class_names
from keras_resnet.training import inputs, train
from keras_resnet.training import workdir as wd

CLASSES = ["beetle", "moth", "wasp"]


def _image_folder(root, size=(45, 37), per_class=6):
    """Class folders of random-noise PNGs, larger than the nets' inputs so that they are
    resized (with antialiasing) on the way in."""
    rng = np.random.default_rng(0)
    files = []
    for cls in CLASSES:
        os.makedirs(root / cls)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            path = str(root / cls / f"{i}.png")
            tf.io.write_file(path, tf.io.encode_png(pixels))
            files.append(path)
    return files


def test_every_dataset_kind_names_its_classes(tmp_path):
    def names(name, style=data.SMALL, classes=10):
        return data.load_source(name, model_style=style, model_classes=classes).class_names

    assert names("digits") == [str(d) for d in range(10)]
    assert names("synthetic", classes=4) == ["0", "1", "2", "3"]
    _image_folder(tmp_path, per_class=2)
    assert names(f"image_folder:{tmp_path}") == CLASSES
    with tfds.testing.mock_data(num_examples=4):
        # An unprepared cifar10 builder knows only "0".."9": the names come from the package.
        assert names("cifar10")[:3] == ["airplane", "automobile", "bird"]
        imagenet_names = names("imagenet2012", data.IMAGENET, 1000)
        imagenette = names("imagenette", data.IMAGENET, 10)
    assert imagenet_names == keras_resnet.imagenet_class_names()  # not WordNet ids
    assert imagenette[:2] == ["tench", "English springer"]
    # A prepared TFDS dataset's ClassLabel names (cifar100 reads them from its archive) pass
    # through as they are.
    prepared = ["apple", "aquarium_fish", "baby"]
    assert dataset_class_names("cifar100", prepared) == prepared
    assert dataset_class_names("cifar10", CLASSES) == CLASSES


def test_export_labels_for_workdirs_of_each_kind(tmp_path):
    (tmp_path / "class_names.txt").write_text("ant\nbee\n")
    assert from_workdir(str(tmp_path), {"dataset": "image_folder:x"})["labels"] == ["ant", "bee"]
    os.remove(tmp_path / "class_names.txt")
    # Workdirs trained before class_names.txt existed: the dataset's known names.
    for dataset, first in (("digits", "0"), ("cifar10", "airplane"), ("imagenet2012", "tench")):
        assert from_workdir(str(tmp_path), {"dataset": dataset})["labels"][0] == first


@pytest.fixture(scope="module")
def trained_on_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("insects")
    files = _image_folder(root)
    config = cifar10.get_config("resnet8")
    config.update(dataset=f"image_folder:{root}", batch_size=8, train_steps=2)
    workdir = str(tmp_path_factory.mktemp("run"))
    train.train_and_evaluate(config, workdir)
    return workdir, files[::10]  # image_folder holds out every 10th file as the test set


def _serve(source, export_dir, files):
    assert export_cli.main([str(source), f"--export_dir={export_dir}"]) == 0
    loaded = tf.saved_model.load(str(export_dir / "1"))
    images = tf.constant([open(f, "rb").read() for f in files])
    return loaded.signatures["serving_default"](image_bytes=images)


def test_training_records_names_and_export_serves_them(trained_on_folder, tmp_path):
    workdir, files = trained_on_folder
    with open(os.path.join(workdir, "class_names.txt")) as f:
        assert f.read().split("\n") == [*CLASSES, ""]
    out = _serve(workdir, tmp_path / "insects", files)
    served = [n.decode() for n in out["class_names"].numpy()]
    assert served == [CLASSES[c] for c in out["classes"].numpy()]


def test_export_and_evaluate_agree_on_small_images(trained_on_folder, tmp_path):
    workdir, files = trained_on_folder
    probs, labels = evaluate.predict(workdir, "center")
    assert labels.tolist() == [0, 1]  # files[0] is a beetle, files[10] a moth
    served = _serve(workdir, tmp_path / "insects", files)["probabilities"].numpy()
    np.testing.assert_allclose(served, probs, atol=1e-5)


def test_export_and_evaluate_agree_on_imagenet_style_views(tmp_path):
    """An ImageNet-style workdir: shorter side to eval_resize (antialiased), central crop."""
    files = _image_folder(tmp_path / "photos", size=(70, 53), per_class=4)
    config = imagenet.get_config("resnet18")
    config.update(dataset=f"image_folder:{tmp_path / 'photos'}", batch_size=4)
    config.data.update(image_size=32, eval_resize=40, mean_examples=4)
    workdir = tmp_path / "run"
    wd.write_config(str(workdir), config.to_dict())
    keras.utils.set_random_seed(1)
    model = keras_resnet.create_model("resnet18", num_classes=3, input_shape=(32, 32, 3))
    model.save(workdir / "model.keras")
    source = data.load_source(config.dataset, model_style=data.IMAGENET, model_classes=3)
    data.build(
        source, inputs.pipeline_settings(config), workdir=str(workdir)
    )  # writes mean.npy, as training does
    probs, _ = evaluate.predict(str(workdir), "center")
    served = _serve(workdir, tmp_path / "photos_model", files[::10])["probabilities"].numpy()
    np.testing.assert_allclose(served, probs, atol=1e-5)
    info = json.loads((tmp_path / "photos_model/1/assets.extra/export_info.json").read_text())
    assert (info["resize"], info["height"]) == (40, 32)
    # The check has teeth: resizing without antialiasing (the old export) scores differently.
    image = tf.io.decode_png(open(files[0], "rb").read())
    mean = np.load(workdir / "mean.npy")
    plain = tf.image.resize(tf.cast(image, tf.float32), (40, 53))[4:36, 10:42] / 255 - mean
    assert np.abs(tf.nn.softmax(model(plain[None])).numpy() - probs[0]).max() > 1e-3


def _copy_workdir(workdir, target, model):
    target.mkdir()
    model.save(target / "model.keras")
    for name in ("config.json", "class_names.txt"):
        (target / name).write_bytes(open(os.path.join(workdir, name), "rb").read())
    return target


@pytest.mark.parametrize("mode", evaluate.MODES)
def test_evaluate_feeds_converted_models_raw_pixels(trained_on_folder, tmp_path, mode):
    """A model that normalises raw pixels itself (converted weights) is evaluated on raw pixels
    in every mode, whatever mean the workdir holds. Here its `preprocess` layer computes x/255,
    so it must score exactly as the same network does on x/255 minus a zero mean."""
    from keras_resnet.models import preprocess_layer

    workdir, files = trained_on_folder
    model = keras.models.load_model(os.path.join(workdir, "model.keras"))
    plain = _copy_workdir(workdir, tmp_path / "plain", model)
    np.save(plain / "mean.npy", np.zeros((32, 32, 3), np.float32))
    preprocess_layer.set_input_normalization(model, [0.0, 0.0, 0.0], [255.0, 255.0, 255.0])
    converted = _copy_workdir(workdir, tmp_path / "converted", model)
    np.save(converted / "mean.npy", np.full((32, 32, 3), 0.4, np.float32))  # ignored
    probs, _ = evaluate.predict(str(converted), mode)
    np.testing.assert_allclose(probs, evaluate.predict(str(plain), mode)[0], atol=1e-5)
    if mode == "center":
        served = _serve(converted, tmp_path / "served", files)["probabilities"].numpy()
        np.testing.assert_allclose(served, probs, atol=1e-5)
