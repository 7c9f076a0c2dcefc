"""The converter against real torchvision (issue 21, item 6): torchvision 0.28's own
resnet18..152, with random weights and random BN statistics, converted: every state-dict key
is used with its shape, and the eval-mode logits agree to 1e-4. Basic-block resnet18 and
bottleneck resnet50 run by default, the other depths with -m slow."""

import glob
import importlib.util
import os

import numpy as np
import pytest

import keras_resnet
from keras_resnet.models.torchvision_weights import load_torchvision
from tests import optional

torch = optional.importorskip("torch", "torch")
SIZE = 64


def _import_torchvision():
    """torchvision, importable beside the CPU build of torch. PyPI's torchvision 0.28.0 wheel is
    built against CUDA torch, so beside the CPU torch its compiled detection ops do not load
    (the ResNets never use them), and torchvision 0.28 then fails at import registering fake
    kernels for two of them without checking they exist. Declaring those two schemas first
    lets its pure-Python models import; with a matching build nothing is declared."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        pytest.skip("torchvision is not installed (pip install -e '.[torch]')")
    try:
        for lib in glob.glob(os.path.join(spec.submodule_search_locations[0], "_C*.so")):
            torch.ops.load_library(lib)
    except OSError:
        library = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _import_torchvision.library = library  # kept alive with the module
    import torchvision

    return torchvision


torchvision = _import_torchvision()


def _torchvision_net(name):
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():  # BN's statistics and affine terms away from their identity init
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.0)
                m.bias.uniform_(-0.1, 0.1)
    return net.eval()


def _check(name):
    net = _torchvision_net(name)
    state = net.state_dict()
    model = keras_resnet.create_model(name, variant="v1.5", input_shape=(SIZE, SIZE, 3))
    # Keys and shapes: the converter takes every key (strict) and each fills a weight of the
    # same number of elements in Keras' layout.
    keras_sizes = sorted(int(np.prod(w.shape)) for w in model.weights if "preprocess" not in w.path)
    torch_sizes = sorted(
        v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked")
    )
    assert keras_sizes == torch_sizes
    load_torchvision(model, state, strict=True)
    x = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    with torch.no_grad():
        normalised = keras_resnet.preprocess_input(x, mode="torch").transpose(0, 3, 1, 2)
        expected = net(torch.from_numpy(np.ascontiguousarray(normalised))).numpy()
    got = model.predict(x, verbose=0)
    assert np.std(expected) > 1e-2  # a non-degenerate reference
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_real_torchvision(name):
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152"])
def test_real_torchvision_deep(name):
    _check(name)


def test_wrong_layout_and_depth_refused():
    state = _torchvision_net("resnet18").state_dict()
    with pytest.raises(KeyError, match="no key|not used"):  # resnet18 keys, resnet34
        load_torchvision(keras_resnet.create_model("resnet34", variant="v1.5"), state)
    state50 = _torchvision_net("resnet50").state_dict()
    with pytest.raises(ValueError, match="variant='v1.5'"):
        load_torchvision(keras_resnet.create_model("resnet50"), state50)


def test_registered_torchvision_file_served_over_http(tmp_path, monkeypatch):
    """The whole path of a published file: torchvision's own .pth, named as torchvision names
    its files, served from 127.0.0.1, registered with its sha256 prefix, downloaded, verified,
    converted once; the model's logits are torchvision's."""
    import hashlib

    from keras_resnet import weights
    from keras_resnet.hub import catalog
    from tests.weights_server import serve

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.delenv(weights.MIRROR_ENV, raising=False)
    monkeypatch.setattr(catalog, "_SPECS", dict(catalog._SPECS))
    net = _torchvision_net("resnet18")
    (tmp_path / "www").mkdir()
    staging = tmp_path / "www" / "staging.pth"
    torch.save(net.state_dict(), staging)
    prefix = hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
    staging.rename(tmp_path / "www" / f"resnet18-{prefix}.pth")
    with serve(tmp_path / "www") as (base, hits):
        weights.register(
            "resnet18.acme",
            url=f"{base}/resnet18-{prefix}.pth",
            file_hash=prefix,
            model="resnet18",
            layout="v1.5",
            normalization="torch",
        )
        model = keras_resnet.create_model(
            "resnet18", weights="resnet18.acme", input_shape=(SIZE, SIZE, 3)
        )
        monkeypatch.setenv(weights.OFFLINE_ENV, "1")
        again = keras_resnet.create_model(
            "resnet18", weights="resnet18.acme", input_shape=(SIZE, SIZE, 3)
        )
    assert hits == [f"/resnet18-{prefix}.pth"]
    x = np.random.default_rng(1).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    with torch.no_grad():
        normalised = keras_resnet.preprocess_input(x, mode="torch").transpose(0, 3, 1, 2)
        expected = net(torch.from_numpy(np.ascontiguousarray(normalised))).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
