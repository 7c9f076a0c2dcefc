"""BN folding (keras_resnet.export.folding): the inference graph computes what the trained
model computes, to float32 precision, over the whole zoo, every shortcut option and plain nets.

The BN statistics are random but calibrated: gamma, beta and the moving mean/variance are
drawn around the batch's own statistics, as a trained net's are. Uncalibrated random statistics
make deep nets chaotic: there, float32 rounding alone (the same unfolded model run in float32
and in float64) moves plain110's logits by 0.15, and no 1e-5 comparison could hold for any
change to the graph.
"""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.export import folding

TOL = 1e-5  # relative to the largest logit (at least 1)
# At these depths float32 itself is that far from exact: the unfolded ResNet-152 in float32
# differs from its float64 twin by ~1e-5 of the largest logit. There the test asks instead that
# folding adds no more error than float32 already has: the folded net's distance to the float64
# result at most twice the unfolded float32 net's.
FLOAT32_LIMITED = {"resnet101", "resnet152"}
# The deepest nets repeat the blocks of shallower ones already covered: they are marked slow (`make test` runs them, `make test-quick` does not).
SLOW = {"resnet101", "resnet152", "resnet1202", "resnet110", "plain110"}


def randomize_bn(model, x, seed=0):
    """Random gamma and beta, then moving statistics = the batch's statistics, perturbed."""
    rng = np.random.default_rng(seed)
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        c = layer.gamma.shape[0]
        layer.gamma.assign(rng.uniform(0.2, 0.5, c).astype(np.float32))
        layer.beta.assign(rng.uniform(0.5, 1.0, c).astype(np.float32))
        layer.momentum = 0.0  # one training-mode pass stores the batch's own statistics
    model(x, training=True)
    for layer in layers:
        c = layer.gamma.shape[0]
        layer.momentum = 0.9
        var = layer.moving_variance.numpy()
        layer.moving_mean.assign(layer.moving_mean.numpy() + rng.normal(0, 0.1, c) * np.sqrt(var))
        layer.moving_variance.assign(np.maximum(var, 0.05) * rng.uniform(0.7, 1.4, c))


def _inputs(model, n=4):
    return np.random.default_rng(1).uniform(-1, 1, (n, *model.input_shape[1:])).astype(np.float32)


def _float64_twin(name, **kwargs):
    keras.mixed_precision.set_global_policy("float64")
    try:
        return keras_resnet.create_model(name, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def assert_folds_exactly(model, float64_twin=None):
    x = _inputs(model)
    randomize_bn(model, x)
    folded = folding.inference_model(model)
    expected = model(x, training=False).numpy()
    got = folded(x, training=False).numpy()
    error = np.abs(got - expected).max()
    if float64_twin is None:
        assert error <= TOL * max(1.0, float(np.abs(expected).max())), error
    else:
        float64_twin.set_weights(model.get_weights())
        exact = float64_twin(x.astype(np.float64), training=False).numpy()
        assert np.abs(got - exact).max() <= 2 * np.abs(expected - exact).max(), error
    bn = {
        layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert bn and not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers
    )
    # The same layers minus BN (Keras may list them in another topological order).
    assert sorted(layer.name for layer in folded.layers) == sorted(
        layer.name for layer in model.layers if layer.name not in bn
    )
    convs = [layer for layer in folded.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(conv.use_bias for conv in convs)
    return model, folded, x


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
        for n in keras_resnet.list_models()
    ],
)
def test_every_model_folds_exactly(name):
    # 32x32 inputs for the ImageNet nets too: every layer still runs (stage 5 on 1x1 maps).
    kwargs = {"input_shape": (32, 32, 3)}
    twin = _float64_twin(name, **kwargs) if name in FLOAT32_LIMITED else None
    assert_folds_exactly(keras_resnet.create_model(name, **kwargs), twin)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("resnet20", {"shortcut": "B"}),
        ("resnet20", {"shortcut": "C"}),
        ("resnet18", {"shortcut": "A"}),
        ("resnet18", {"shortcut": "C"}),
        ("resnet50", {"variant": "v1.5", "num_classes": 7}),
    ],
)
def test_shortcut_options_and_variants_fold_exactly(name, kwargs):
    assert_folds_exactly(keras_resnet.create_model(name, input_shape=(32, 32, 3), **kwargs))


def test_random_statistics_matter():
    """The check above can fail: the statistics move the outputs far beyond the tolerance."""
    model = keras_resnet.create_model("resnet20")
    x = _inputs(model)
    default = model(x, training=False).numpy()
    randomize_bn(model, x)
    assert np.abs(model(x, training=False).numpy() - default).max() > 1e3 * TOL


def test_fused_batchnorm_layers_fold_after_training():
    """keras_resnet trains with BN on TF's fused kernel; its statistics fold the same way."""
    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet8", num_classes=3))
    x = _inputs(model, n=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(8) % 3, batch_size=8, epochs=2, verbose=0)
    _, folded, _ = assert_folds_exactly(model)
    assert "keras_resnet" not in folded.to_json()


def test_shared_conv_outputs_and_unfoldable_bn_stay():
    """A BN whose conv output something else reads too, or with no conv before it, stays BN."""
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    a = keras.layers.BatchNormalization(name="bn_shared")(conv)
    b = keras.layers.ReLU(name="relu")(conv)  # reads the conv output beside the BN
    y = keras.layers.Add(name="add")([a, b])
    y = keras.layers.BatchNormalization(name="bn_after_add")(y)
    y = keras.layers.Conv2D(5, 1, name="conv2")(y)
    y = keras.layers.BatchNormalization(name="bn2")(y)
    model = keras.Model(inputs, y)
    assert set(folding.foldable_pairs(model)) == {"bn2"}
    x = _inputs(model)
    randomize_bn(model, x)
    folded = folding.inference_model(model)
    assert [layer.name for layer in folded.layers if "bn" in layer.name] == [
        "bn_shared",
        "bn_after_add",
    ]
    np.testing.assert_allclose(folded(x), model(x, training=False), atol=TOL, rtol=TOL)


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="'float8'"):
        folding.inference_model(keras_resnet.create_model("resnet8"), "float8")


def test_folded_low_precision_keras_file_loads_without_keras_resnet(tmp_path):
    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet8"))
    folded = folding.inference_model(model, "bfloat16")
    path = tmp_path / "folded.keras"
    folded.save(path)
    x = _inputs(model, n=2)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import keras
        model = keras.models.load_model(sys.argv[1], safe_mode=True)
        assert "keras_resnet" not in sys.modules, "keras_resnet was imported"
        np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
        """
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        check=True,
        cwd=tmp_path,  # not the repo root, so keras_resnet is not importable by accident
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, folded.predict(x, verbose=0), atol=1e-6)
