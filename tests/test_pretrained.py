"""Converted weights carry their input normalisation (issue 13, items 2 and 5): torchvision's and
keras.applications' (the paper's Caffe) models, converted, saved and exported with no flags,
give the reference framework's probabilities on raw 0-255 pixels."""

import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet.cli import export as export_cli
from keras_resnet.models import preprocess_layer
from tests import optional

keras = pytest.importorskip("keras")

torch = optional.importorskip("torch", "torch")
from keras_resnet.models import torch_reference  # noqa: E402

SIZE = 64


def _pixels(n=2, seed=0, size=SIZE):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def _torch_probabilities(net, pixels):
    x = keras_resnet.preprocess_input(pixels, mode="torch").transpose(0, 3, 1, 2)
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(x)), dim=-1).numpy()


def _export(source, tmp_path):
    export_dir = tmp_path / "models" / "converted"
    assert export_cli.main([str(source), f"--export_dir={export_dir}"]) == 0  # no flags
    return export_dir, tf.saved_model.load(str(export_dir / "1"))


def _check_served(export_dir, loaded, pixels, expected):
    out = loaded.signatures["predict_images"](images=tf.constant(pixels))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-4)
    names = [n.decode() for n in out["class_names"].numpy()]
    assert names == [keras_resnet.imagenet_class_names()[c] for c in expected.argmax(-1)]
    app = keras.models.load_model(export_dir / "converted-1.keras", safe_mode=True)
    np.testing.assert_allclose(app.predict(pixels, verbose=0), expected, atol=1e-4)


def test_torchvision_convert_save_export_serves_torch_probabilities(tmp_path):
    net = torch_reference.randomized("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    model = keras_resnet.create_model("resnet18", weights=path, input_shape=(SIZE, SIZE, 3))
    mean, std = preprocess_layer.input_normalization(model)
    np.testing.assert_allclose(mean, [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(std, [58.395, 57.12, 57.375], rtol=1e-6)
    model.save(tmp_path / "model.keras")

    pixels = _pixels()
    expected = _torch_probabilities(net, pixels)
    assert expected.max() < 0.5  # not saturated: a wrong normalisation would show
    export_dir, loaded = _export(tmp_path / "model.keras", tmp_path)
    _check_served(export_dir, loaded, pixels, expected)


def randomized_keras_applications(constructor="ResNet50", seed=0, **kwargs):
    """A keras.applications ResNet with random conv biases and random BN statistics, so that a
    converter mixing up the fold, the epsilon or the channel order could not pass by luck."""
    model = getattr(keras.applications, constructor)(weights=None, **kwargs)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            n = weights[0].shape[0]
            ranges = [(0.5, 1.5), (-0.2, 0.2), (-0.2, 0.2), (0.5, 1.5)]
            layer.set_weights([rng.uniform(lo, hi, n) for lo, hi in ranges])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = weights[0] * (0.1 if isinstance(layer, keras.layers.Dense) else 1.0)
            layer.set_weights([kernel, rng.uniform(-0.2, 0.2, weights[1].shape)])
    return model


def _caffe_probabilities(theirs, pixels):
    # preprocess_input works in place on float arrays: give it a copy.
    return theirs.predict(keras.applications.resnet.preprocess_input(pixels.copy()), verbose=0)


@pytest.fixture(scope="module")
def resnet50_ka():
    theirs = randomized_keras_applications(input_shape=(SIZE, SIZE, 3))
    pixels = _pixels(seed=1)
    return theirs, pixels, _caffe_probabilities(theirs, pixels)


def test_keras_applications_model_equals_caffe_preprocessing(resnet50_ka):
    theirs, pixels, expected = resnet50_ka
    assert expected.max() < 0.5 and expected.std() > 1e-4
    model = keras_resnet.create_model("resnet50", input_shape=(SIZE, SIZE, 3))
    keras_resnet.weights.load_keras_applications(model, theirs)
    ours = keras.ops.softmax(model.predict(pixels, verbose=0)).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    mean, std = preprocess_layer.input_normalization(model)
    np.testing.assert_allclose(mean, [123.68, 116.779, 103.939], rtol=1e-6)  # Caffe's, as RGB
    np.testing.assert_allclose(std, 1.0)
    # Each conversion matters: the raw stem kernel (BGR) would give other probabilities.
    stem = theirs.get_layer("conv1_conv").get_weights()[0]
    np.testing.assert_array_equal(model.get_layer("stem_conv").kernel.numpy(), stem[:, :, ::-1])


def test_keras_applications_weight_files(resnet50_ka, tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    theirs, pixels, expected = resnet50_ka
    theirs.save_weights(tmp_path / "ka.weights.h5")
    legacy = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"  # the download's format
    import h5py

    with h5py.File(legacy, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, theirs)
    for path in (tmp_path / "ka.weights.h5", legacy):
        model = keras_resnet.create_model("resnet50", weights=path, input_shape=(SIZE, SIZE, 3))
        ours = keras.ops.softmax(model.predict(pixels, verbose=0)).numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-4, err_msg=str(path))


def test_keras_applications_convert_save_export(resnet50_ka, tmp_path):
    theirs, pixels, expected = resnet50_ka
    model = keras_resnet.create_model("resnet50", input_shape=(SIZE, SIZE, 3))
    keras_resnet.weights.load_keras_applications(model, theirs)
    model.save(tmp_path / "model.keras")
    export_dir, loaded = _export(tmp_path / "model.keras", tmp_path)
    _check_served(export_dir, loaded, pixels, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet101", "ResNet152"])
def test_keras_applications_deep(name):
    theirs = randomized_keras_applications(name, input_shape=(SIZE, SIZE, 3))
    pixels = _pixels(seed=2)
    model = keras_resnet.create_model(f"resnet{name[6:]}", input_shape=(SIZE, SIZE, 3))
    keras_resnet.weights.load_keras_applications(model, theirs)
    ours = keras.ops.softmax(model.predict(pixels, verbose=0)).numpy()
    np.testing.assert_allclose(ours, _caffe_probabilities(theirs, pixels), atol=1e-4)


def test_keras_applications_refuses_wrong_layouts(resnet50_ka):
    theirs = resnet50_ka[0]
    with pytest.raises(ValueError, match="v1"):
        keras_resnet.weights.load_keras_applications(
            keras_resnet.create_model("resnet50", variant="v1.5"), theirs
        )
    headless = keras_resnet.create_model("resnet50", include_top=False)
    with pytest.raises(KeyError, match="predictions"):  # strict: its classifier went unused
        keras_resnet.weights.load_keras_applications(headless, theirs)
    keras_resnet.weights.load_keras_applications(headless, theirs, strict=False)
    assert preprocess_layer.takes_raw_pixels(headless)
