"""keras.applications-style API (issue 13, item 6): include_top / pooling / classifier_activation
/ weights, feature_pyramid, preprocess_input and decode_predictions."""

import json

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.models import preprocess_layer
from tests import optional

SIZE = 64


@pytest.fixture(scope="module")
def torch_reference():
    """The PyTorch reference nets: the tests that take them skip without the 'torch' extra, the
    rest of this file runs on a default install."""
    optional.importorskip("torch", "torch")
    from keras_resnet.models import torch_reference

    return torch_reference


def _pixels(n=2, size=SIZE, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def test_headless_model_returns_the_last_feature_map():
    resnet50 = keras_resnet.create_model("resnet50", include_top=False, input_shape=(96, 128, 3))
    assert resnet50.output_shape == (None, 3, 4, 2048)  # (H/32, W/32, C)
    assert not any(la.name in ("pool", "logits") for la in resnet50.layers)
    features = keras_resnet.create_model("resnet18", include_top=False, input_shape=(96, 128, 3))
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        pooled = keras_resnet.create_model(
            "resnet18", include_top=False, pooling=pooling, input_shape=(96, 128, 3)
        )
        pooled.set_weights(features.get_weights())
        x = np.random.default_rng(0).uniform(0, 255, (2, 96, 128, 3)).astype(np.float32)
        np.testing.assert_allclose(
            pooled.predict(x, verbose=0), reduce(features.predict(x, verbose=0), axis=(1, 2)),
            rtol=1e-5, atol=1e-5,
        )  # fmt: skip
    cifar = keras_resnet.create_model("resnet20", include_top=False)
    assert cifar.output_shape == (None, 8, 8, 64)


def test_classifier_activation_and_argument_errors(tmp_path, monkeypatch):
    logits = keras_resnet.create_model("resnet20")
    probs = keras_resnet.create_model("resnet20", classifier_activation="softmax")
    probs.set_weights(logits.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(
        probs.predict(x, verbose=0),
        keras.ops.softmax(logits.predict(x, verbose=0)).numpy(),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="'min'"):
        keras_resnet.create_model("resnet20", include_top=False, pooling="min")
    with pytest.raises(ValueError, match="'max'"):
        keras_resnet.create_model("resnet20", pooling="max")  # the top pools by averaging
    with pytest.raises(ValueError, match="'softmax'.*include_top=False"):
        keras_resnet.create_model("resnet20", include_top=False, classifier_activation="softmax")
    # "imagenet" is a download (tests/test_weights_download.py); offline, a one-line refusal.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_RESNET_OFFLINE", "1")
    with pytest.raises(keras_resnet.UserError, match="'resnet50.keras_in1k' are not cached"):
        keras_resnet.create_model("resnet50", weights="imagenet")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="weights.bin"):
        keras_resnet.create_model("resnet20", weights=tmp_path / "weights.bin")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        keras_resnet.create_model("resnet20", weights=tmp_path / "nope.pth")


@pytest.fixture(scope="module")
def resnet18_torch(tmp_path_factory, torch_reference):
    import torch

    directory = tmp_path_factory.mktemp("weights")
    net = torch_reference.randomized("resnet18")
    torch.save(net.state_dict(), directory / "resnet18.pth")
    return net, directory


def _torch_logits(net, pixels):
    import torch

    x = keras_resnet.preprocess_input(pixels, mode="torch").transpose(0, 3, 1, 2)
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def test_weights_argument_takes_every_local_format(resnet18_torch, tmp_path):
    from safetensors.torch import save_file

    net, directory = resnet18_torch
    state = net.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    np.savez(tmp_path / "w.npz", **{k: v.numpy() for k, v in state.items()})
    pixels = _pixels()
    expected = _torch_logits(net, pixels)
    shape = (SIZE, SIZE, 3)
    reference = keras_resnet.create_model("resnet18", weights=directory / "resnet18.pth")
    reference.save_weights(tmp_path / "own.weights.h5")
    reference.save(tmp_path / "model.keras")
    workdir = tmp_path / "run"
    workdir.mkdir()
    reference.save(workdir / "model.keras")
    for source in ("w.safetensors", "w.npz", "own.weights.h5", "model.keras", "run"):
        model = keras_resnet.create_model("resnet18", weights=tmp_path / source, input_shape=shape)
        np.testing.assert_allclose(model.predict(pixels, verbose=0), expected, atol=1e-4)
        assert preprocess_layer.takes_raw_pixels(model), source


def test_headless_model_from_full_weights(resnet18_torch):
    net, directory = resnet18_torch
    path = directory / "resnet18.pth"
    features = keras_resnet.create_model("resnet18", include_top=False, weights=path)
    full = keras_resnet.create_model("resnet18", weights=path)
    pixels = _pixels(size=224, n=1)
    inner = keras.Model(full.input, full.get_layer("stage5_block2_out").output)
    np.testing.assert_allclose(
        features.predict(pixels, verbose=0), inner.predict(pixels, verbose=0), atol=1e-5
    )
    # Another class count: the pretrained backbone under a fresh head.
    ten = keras_resnet.create_model("resnet18", weights=path, num_classes=10)
    assert ten.get_layer("logits").units == 10
    for a, b in zip(ten.get_layer("stem_conv").weights, full.get_layer("stem_conv").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_torchvision_weights_build_torchvision_layout(tmp_path, torch_reference):
    state = {k: v.numpy() for k, v in torch_reference.randomized("resnet50").state_dict().items()}
    np.savez(tmp_path / "r50.npz", **state)
    model = keras_resnet.create_model("resnet50", weights=tmp_path / "r50.npz")
    assert model.get_layer("stage3_block1_conv2").strides == (2, 2)  # v1.5, picked for us
    with pytest.raises(ValueError, match="v1.5"):
        keras_resnet.create_model("resnet50", weights=tmp_path / "r50.npz", variant="v1")


def test_feature_pyramid_levels_and_strides():
    model = keras_resnet.create_model("resnet50", input_shape=(128, 128, 3))
    pyramid = keras_resnet.feature_pyramid(model)
    out = pyramid(np.zeros((1, 128, 128, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "P2": (1, 32, 32, 256),
        "P3": (1, 16, 16, 512),
        "P4": (1, 8, 8, 1024),
        "P5": (1, 4, 4, 2048),
    }
    # The same layers: P5 is what the headless model returns.
    assert pyramid.get_layer("stage5_block3_out") is model.get_layer("stage5_block3_out")
    cifar = keras_resnet.feature_pyramid(keras_resnet.create_model("resnet20", include_top=False))
    assert {k: tuple(v.shape[1:]) for k, v in cifar.output.items()} == {
        "P0": (32, 32, 16),
        "P1": (16, 16, 32),
        "P2": (8, 8, 64),
    }
    with pytest.raises(ValueError, match="'mlp'"):
        keras_resnet.feature_pyramid(keras.Sequential([keras.Input((4,))], name="mlp"))


def test_preprocess_input_modes():
    x = _pixels(n=1, size=4)
    caffe = keras_resnet.preprocess_input(x, mode="caffe")
    np.testing.assert_allclose(caffe, keras.applications.resnet.preprocess_input(x.copy()))
    torch_mode = keras_resnet.preprocess_input(x, mode="torch")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(torch_mode, (x / 255 - mean) / std, rtol=1e-5)
    pixel_mean = np.random.default_rng(1).uniform(0, 1, (4, 4, 3)).astype(np.float32)
    paper = keras_resnet.preprocess_input(x, mode="paper", mean=pixel_mean)
    np.testing.assert_allclose(paper, x / 255 - pixel_mean, rtol=1e-6)
    import tensorflow as tf

    tensor = keras_resnet.preprocess_input(tf.constant(x), mode="caffe")
    assert isinstance(tensor, tf.Tensor)
    np.testing.assert_allclose(tensor.numpy(), caffe)
    with pytest.raises(ValueError, match="'bgr'"):
        keras_resnet.preprocess_input(x, mode="bgr")
    with pytest.raises(ValueError, match="mean.npy"):
        keras_resnet.preprocess_input(x, mode="paper")


def test_decode_predictions_and_shipped_names():
    names = keras_resnet.imagenet_class_names()
    assert len(names) == len(set(names)) == 1000
    assert names[:3] == ["tench", "goldfish", "great white shark"] and names[-1] == "toilet tissue"
    preds = np.full((2, 1000), 1e-4, np.float32)
    preds[0, [1, 8, 3]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 0.9
    decoded = keras_resnet.decode_predictions(preds, top=3)
    assert [(w, n) for w, n, _ in decoded[0]] == [
        ("n01443537", "goldfish"),
        ("n01514859", "hen"),
        ("n01491361", "tiger shark"),
    ]
    assert decoded[0][0][2] == pytest.approx(0.5) and decoded[1][0][1] == "toilet tissue"
    assert len(keras_resnet.decode_predictions(preds)[0]) == 5
    with pytest.raises(ValueError, match=r"\(2, 10\)"):
        keras_resnet.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="0"):
        keras_resnet.decode_predictions(preds, top=0)


def test_package_ships_the_names_file():
    from pathlib import Path

    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert (
        "imagenet_classes.txt"
        in pyproject["tool"]["setuptools"]["package-data"]["keras_resnet.imaging"]
    )
    assert "keras_resnet.imaging" in pyproject["tool"]["setuptools"]["packages"]
    json.dumps(keras_resnet.decode_predictions(np.eye(1000)[:1], top=1))  # plain Python values
