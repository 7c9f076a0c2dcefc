"""The published weights as data (issue 21, item 1) and keras.applications' arguments with
pretrained weights (item 4): the facts match the publishers' source, a different number of
classes keeps the backbone bit-identical under a fresh head, classes= and input_tensor= work."""

import logging

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import weights
from keras_resnet.models import preprocess_layer

# The publishers' facts, as the issue lists them (torchvision 0.28 resnet.py; keras 3.15
# applications/resnet.py WEIGHTS_HASHES).
TORCHVISION = {
    "resnet18.tv_in1k": ("resnet18-f37072fd.pth", 69.758, 256),
    "resnet34.tv_in1k": ("resnet34-b627a593.pth", 73.314, 256),
    "resnet50.tv_in1k": ("resnet50-0676ba61.pth", 76.130, 256),
    "resnet101.tv_in1k": ("resnet101-63fe2227.pth", 77.374, 256),
    "resnet152.tv_in1k": ("resnet152-394f9c45.pth", 78.312, 256),
    "resnet50.tv2_in1k": ("resnet50-11ad3fa6.pth", 80.858, 232),
    "resnet101.tv2_in1k": ("resnet101-cd907fc2.pth", 81.886, 232),
    "resnet152.tv2_in1k": ("resnet152-f82ba261.pth", 82.284, 232),
}
KERAS_MD5 = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}


@pytest.mark.parametrize("tag", sorted(TORCHVISION))
def test_torchvision_specs(tag):
    file_name, top1, resize = TORCHVISION[tag]
    spec = weights.get(tag)
    assert spec.url == f"https://download.pytorch.org/models/{file_name}"
    assert spec.file_hash == file_name.split("-")[1].split(".")[0]  # torch.hub's sha256 prefix
    assert (spec.top1, spec.resize, spec.crop) == (top1, resize, 224)
    assert (spec.layout, spec.normalization, spec.model) == ("v1.5", "torch", tag.split(".")[0])
    assert spec.size_mb and spec.top5 and spec.license and "torchvision" in spec.source


@pytest.mark.parametrize("model", sorted(KERAS_MD5))
def test_keras_applications_specs(model):
    top, notop = weights.get(f"{model}.keras_in1k"), weights.get(f"{model}.keras_in1k_notop")
    assert (top.file_hash, notop.file_hash) == KERAS_MD5[model]
    base = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    assert top.url == f"{base}{model}_weights_tf_dim_ordering_tf_kernels.h5"
    assert notop.url == f"{base}{model}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert (top.layout, top.normalization, top.num_classes, notop.num_classes) == (
        "v1",
        "caffe",
        1000,
        None,
    )


def test_imagenet_defaults_and_variant_conflict():
    # Every depth has a default, built in the layout its weights need; a conflicting variant
    # names the right one before anything is downloaded.
    with pytest.raises(ValueError, match="variant='v1'"):
        keras_resnet.create_model("resnet50", weights="imagenet", variant="v1.5")
    with pytest.raises(ValueError, match="variant='v1.5'"):
        keras_resnet.create_model("resnet18", weights="imagenet", variant="v1")
    with pytest.raises(ValueError, match="are for 'resnet50'"):
        keras_resnet.create_model("resnet101", weights="resnet50.tv2_in1k")
    with pytest.raises(ValueError, match="no default for 'resnet20'"):
        keras_resnet.create_model("resnet20", weights="imagenet")


@pytest.fixture(scope="module")
def pretrained_file(tmp_path_factory):
    """A resnet8 'pretrained' on 1000 classes, with a non-identity input normalisation."""
    model = keras_resnet.create_model("resnet8", num_classes=1000)
    preprocess_layer.set_input_normalization(model, (120.0, 110.0, 100.0), (60.0, 58.0, 57.0))
    for layer in model.layers:  # non-trivial BN statistics, so that copying them shows
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, size=layer.moving_variance.shape))
    path = tmp_path_factory.mktemp("w") / "pre.weights.h5"
    model.save_weights(path)
    return model, path


def _backbone_identical(model, donor):
    for layer in model.layers:
        if layer.weights and layer.name != "logits":
            for a, b in zip(layer.get_weights(), donor.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)


def test_other_num_classes_keeps_backbone_and_starts_fresh_head(pretrained_file, caplog):
    donor, path = pretrained_file
    with caplog.at_level(logging.INFO):
        model = keras_resnet.create_model("resnet8", weights=str(path), num_classes=10)
    assert "fresh 10-class head" in caplog.text and "1000 classes" in caplog.text
    _backbone_identical(model, donor)
    assert model.get_layer("logits").kernel.shape == (64, 10)
    assert preprocess_layer.takes_raw_pixels(model)


def test_classes_and_input_tensor(pretrained_file):
    donor, path = pretrained_file
    assert keras_resnet.create_model("resnet8", classes=7).output_shape == (None, 7)
    with pytest.raises(ValueError, match="classes=7 and num_classes=5"):
        keras_resnet.create_model("resnet8", classes=7, num_classes=5)
    # keras.applications' input_tensor: the model is built on a given tensor's graph.
    images = keras.Input((32, 32, 3), name="my_images")
    flipped = keras.layers.RandomFlip("horizontal", name="flip")(images)
    model = keras_resnet.create_model(
        "resnet8", weights=str(path), input_tensor=flipped, classes=1000
    )
    assert model.inputs[0] is images and model.get_layer("flip") is not None
    _backbone_identical(model, donor)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), donor.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="input_tensor must be a Keras tensor"):
        keras_resnet.create_model("resnet8", input_tensor=np.zeros((1, 32, 32, 3)))


def test_include_top_false_drops_head(pretrained_file):
    donor, path = pretrained_file
    model = keras_resnet.create_model(
        "resnet8", weights=str(path), include_top=False, pooling="avg"
    )
    assert model.output_shape == (None, 64)
    _backbone_identical(model, donor)


def test_headless_imagenet_takes_the_notop_file():
    from keras_resnet.hub import catalog

    assert catalog.resolve("imagenet", "resnet50", include_top=False).tag == (
        "resnet50.keras_in1k_notop"
    )
    assert catalog.resolve("imagenet", "resnet18", include_top=False).tag == "resnet18.tv_in1k"


def test_docs_table_is_the_commands_output(capsys):
    """docs/weights.md's table is what `keras-resnet-models --weights` prints from the specs."""
    from pathlib import Path

    from keras_resnet.cli import models as models_cli

    assert models_cli.main(["--weights"]) == 0
    table = capsys.readouterr().out.strip()
    assert all(f"`{tag}`" in table for tag in weights.list_weights())
    docs = (Path(__file__).resolve().parents[1] / "docs" / "weights.md").read_text()
    assert table in docs
