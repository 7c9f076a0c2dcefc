"""torchvision state_dict -> Keras conversion, checked against a PyTorch reference net."""

import numpy as np
import pytest

import keras_resnet
from keras_resnet.models.torchvision_weights import load_torchvision
from tests import optional

torch = optional.importorskip("torch", "torch")
from keras_resnet.models import torch_reference  # noqa: E402


def _logits_match(name, source_kind, tmp_path, size=64):
    net = torch_reference.randomized(name)
    state = net.state_dict()
    if source_kind == "mapping":
        source = state
    elif source_kind == "npz":
        source = tmp_path / "w.npz"
        np.savez(source, **{k: v.numpy() for k, v in state.items()})
    elif source_kind == "safetensors":
        from safetensors.torch import save_file

        source = tmp_path / "w.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(source))
    else:
        source = tmp_path / "w.pth"
        torch.save(state, source)
    model = keras_resnet.create_model(name, variant="v1.5", input_shape=(size, size, 3))
    load_torchvision(model, source)

    # The converted model takes raw 0-255 pixels; torch takes torchvision's normalisation.
    x = np.random.default_rng(0).uniform(0, 255, size=(2, size, size, 3)).astype(np.float32)
    keras_logits = model.predict(x, verbose=0)
    with torch.no_grad():
        normalised = keras_resnet.preprocess_input(x, mode="torch").transpose(0, 3, 1, 2)
        torch_logits = net(torch.from_numpy(normalised)).numpy()  # NHWC -> NCHW
    assert np.std(torch_logits) > 1e-3  # a non-degenerate reference
    np.testing.assert_allclose(keras_logits, torch_logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_logits_match_torch(name, tmp_path):
    _logits_match(name, "mapping", tmp_path)


@pytest.mark.parametrize("kind", ["npz", "safetensors", "pth"])
def test_file_formats(kind, tmp_path):
    _logits_match("resnet18", kind, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152"])
def test_logits_match_torch_deep(name, tmp_path):
    _logits_match(name, "mapping", tmp_path)


@pytest.fixture(scope="module")
def r18_state():
    return {k: v.numpy() for k, v in torch_reference.randomized("resnet18").state_dict().items()}


def test_missing_key_is_named(r18_state):
    state = dict(r18_state)
    del state["layer3.0.downsample.1.running_var"]
    model = keras_resnet.create_model("resnet18", variant="v1.5")
    with pytest.raises(KeyError, match=r"layer3\.0\.downsample\.1\.running_var"):
        load_torchvision(model, state)


def test_shape_mismatch_is_named(r18_state):
    state = dict(r18_state, **{"fc.weight": np.zeros((10, 512), np.float32)})
    model = keras_resnet.create_model("resnet18", variant="v1.5")
    with pytest.raises(ValueError, match=r"fc\.weight"):
        load_torchvision(model, state)


def test_unused_key_is_named_and_model_untouched(r18_state):
    state = dict(r18_state, **{"layer5.0.conv1.weight": np.zeros((1, 1, 1, 1), np.float32)})
    model = keras_resnet.create_model("resnet18", variant="v1.5")
    before = model.get_layer("stem_conv").get_weights()[0].copy()
    with pytest.raises(KeyError, match=r"layer5\.0\.conv1\.weight"):
        load_torchvision(model, state)
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0], before)


def test_v1_model_refused():
    state = {k: v.numpy() for k, v in torch_reference.randomized("resnet50").state_dict().items()}
    with pytest.raises(ValueError, match="v1.5"):
        load_torchvision(keras_resnet.create_model("resnet50"), state)


def test_bad_file_type(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="weights.h5"):
        load_torchvision(keras_resnet.create_model("resnet18", variant="v1.5"), path)
