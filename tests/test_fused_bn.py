"""Fused BN (keras_resnet/models/fused_bn.py) computes what Keras' BatchNormalization computes,
trains the same, and never reaches a saved file, whoever saves: `.keras` files hold standard
Keras layers."""

import json
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet.bench import timing as bench_lib
from keras_resnet.models.fused_bn import is_fused, use_standard_batchnorm
from keras_resnet.training import workdir as wd


def _pair(name="resnet20"):
    keras.utils.set_random_seed(3)
    standard = keras_resnet.create_model(name)
    fused = keras_resnet.create_model(name)
    fused.set_weights(standard.get_weights())
    return standard, keras_resnet.use_fused_batchnorm(fused)


def _bn_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_every_bn_layer_is_switched_and_keeps_its_class():
    standard, fused = _pair()
    assert all(is_fused(layer) for layer in _bn_layers(fused))
    assert not any(is_fused(layer) for layer in _bn_layers(standard))
    assert len(_bn_layers(fused)) == len(_bn_layers(standard)) == 19  # stem + 2 per block
    assert [type(a) for a in fused.layers] == [type(b) for b in standard.layers]
    assert {type(layer) for layer in _bn_layers(fused)} == {keras.layers.BatchNormalization}


@pytest.mark.parametrize("training", [False, True])
def test_traced_graph_runs_the_fused_kernel(training):
    """The switch reaches what `fit` and `predict` run: a traced function of the model."""

    def ops(model):
        fn = tf.function(lambda x: model(x, training=training))
        graph = fn.get_concrete_function(tf.TensorSpec((2, 32, 32, 3))).graph.as_graph_def()
        return {n.op for n in graph.node} | {
            n.op for f in graph.library.function for n in f.node_def
        }

    standard, fused = _pair()
    assert "FusedBatchNormV3" in ops(fused)
    assert "FusedBatchNormV3" not in ops(standard)
    assert "FusedBatchNormV3" not in ops(use_standard_batchnorm(fused))


@pytest.mark.parametrize("training", [False, True])
def test_forward_matches_standard_bn(training):
    standard, fused = _pair()
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    want = np.asarray(standard(x, training=training))
    got = np.asarray(fused(x, training=training))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_gradients_and_moving_statistics_match_standard_bn():
    """Same gradients (to float32 round-off, which BN's backward pass amplifies in a deep
    net: checked against finite differences while writing this) and the same moving-statistics
    rule (population variance, momentum 0.9)."""
    standard, fused = _pair()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=(16,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    grads = []
    for model in (standard, fused):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        grads.append(tape.gradient(value, model.trainable_weights))
    for w, a, b in zip(standard.trainable_weights, *grads, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert np.linalg.norm(a - b) <= 2e-2 * np.linalg.norm(a), w.path
    for a, b in zip(_bn_layers(standard), _bn_layers(fused), strict=True):
        for stat in ("moving_mean", "moving_variance"):
            want, got = np.asarray(getattr(a, stat)), np.asarray(getattr(b, stat))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=a.name)
    assert not np.allclose(np.asarray(fused.get_layer("stem_bn").moving_variance), 1.0)


def test_mixed_bfloat16_runs_fused_and_stays_close():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        standard, fused = _pair()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = np.random.default_rng(2).normal(size=(4, 32, 32, 3)).astype("float32")
    assert fused.get_layer("stem_bn")(fused.get_layer("stem_conv")(x)).dtype == "bfloat16"
    want = np.asarray(standard(x, training=False))
    got = np.asarray(fused(x, training=False))
    assert np.abs(got - want).max() < 0.05 * (np.abs(want).max() + 1)


def _opens_without_this_package(path):
    """Loads `path` in safe mode in a process that never imports keras_resnet; True when its
    BN layers are exactly `keras.layers.BatchNormalization`."""
    with zipfile.ZipFile(path) as z:
        config = z.read("config.json").decode()
    assert "FusedBatchNormalization" not in config and "keras_resnet" not in config
    assert json.loads(config)["config"]["layers"]
    script = (
        "import sys, keras\n"
        f"m = keras.models.load_model({path!r}, safe_mode=True)\n"
        "assert 'keras_resnet' not in sys.modules\n"
        "bn = [l for l in m.layers if 'BatchNormalization' in type(l).__name__]\n"
        "print(len(bn) == 19 and {type(l) for l in bn} == {keras.layers.BatchNormalization})\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1] == "True"


def test_a_users_own_save_after_the_public_call_writes_standard_layers(tmp_path):
    """Safe by construction: a plain `model.save()` (no helper of ours) after the public
    `keras_resnet.use_fused_batchnorm`, and after training with it, writes only standard
    layers; the fused layers keep computing fused afterwards."""
    _, fused = _pair()
    fused.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError())
    fused.fit(np.zeros((2, 32, 32, 3)), np.zeros((2, 10)), epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    fused.save(path)
    assert _opens_without_this_package(path)
    assert all(is_fused(layer) for layer in _bn_layers(fused))
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(4).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fused.predict(x, verbose=0), atol=1e-4)


def test_training_saves_open_without_this_package(tmp_path):
    _, fused = _pair()
    path = str(tmp_path / "model.keras")
    wd.save_model_atomic(fused, path)
    assert _opens_without_this_package(path)


def test_benchmark_modes_really_build_their_dtype():
    """The bf16 modes once measured float32 (clear_session() reset the policy)."""
    built = []

    def build():
        model = keras_resnet.create_model("resnet20", input_shape=(8, 8, 3))
        built.append(model.dtype_policy.name)
        return model

    for mode in ("float32", "bf16"):
        kwargs = dict(batch=2, image_size=8, num_classes=10, train=False)
        bench_lib.keras_throughput(build, bench_lib.MODES[mode], min_time=0, max_iters=1, **kwargs)
    assert built == ["float32", "mixed_bfloat16"]
    assert keras.mixed_precision.global_policy().name == "float32"
