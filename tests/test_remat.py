"""Activation recomputation (config.remat, keras_resnet/models/remat.py) on a tiny ResNet:
the same gradients and BN statistics as without it, the forward pass really run twice, the
real train entry point, bad values, and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet.configs import base, cifar10
from keras_resnet.errors import UserError
from keras_resnet.export import export_model
from keras_resnet.export.served_inputs import Preprocessing
from keras_resnet.models import remat
from keras_resnet.training import train


def _step(mode):
    """One training step's loss, gradients, BN moving statistics after it, and the number of
    Conv2D ops in the traced step (forward and backward)."""
    keras.utils.set_random_seed(0)
    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet8"))
    remat.use_remat(model, mode)
    x = tf.random.stateless_uniform((4, 32, 32, 3), (1, 2))
    y = tf.constant([1, 2, 3, 4])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            )
        return loss, tape.gradient(loss, model.trainable_variables)

    convs = sum(op.type == "Conv2D" for op in step.get_concrete_function().graph.get_operations())
    loss, grads = step()
    stats = [v.numpy() for v in model.non_trainable_variables]
    return loss.numpy(), [g.numpy() for g in grads], stats, convs


@pytest.fixture(scope="module")
def plain():
    return _step("none")


@pytest.mark.parametrize("mode", ["blocks", "stages"])
def test_same_gradients_and_statistics(plain, mode):
    loss, grads, stats, convs = _step(mode)
    assert loss == pytest.approx(plain[0], abs=1e-6)
    assert len(grads) == len(plain[1])
    for g, ref in zip(grads, plain[1]):
        np.testing.assert_allclose(g, ref, atol=1e-5)
    # BN moved its statistics once: recomputing the forward pass must not move them again.
    for s, ref in zip(stats, plain[2]):
        np.testing.assert_allclose(s, ref, atol=1e-6)
    # The backward pass runs the recomputed segments' convolutions a second time (resnet8: 7
    # convs in the stem and blocks; the graph's Conv2D count includes their input gradients).
    assert convs > plain[3]


def test_segments_chain_the_model():
    model = keras_resnet.create_model("resnet50")
    parts = remat.segments(model, "stages")
    assert len(parts) == 6  # stem, 4 stages, head
    assert [again for _, again in parts] == [True] * 5 + [False]
    assert len(remat.segments(model, "blocks")) == 1 + 16 + 1
    # Shared layers, not copies: every weight belongs to the model.
    ids = {id(w) for w in model.weights}
    assert all(id(w) in ids for seg, _ in parts for w in seg.weights)


def test_modes_match_the_config_choices():
    assert remat.MODES == base.CHOICES["remat"]


def test_bad_values_are_one_line_errors():
    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet8"))
    with pytest.raises(ValueError, match="got 'layers'"):
        remat.use_remat(model, "layers")
    with pytest.raises(ValueError, match="needs fused BN"):
        remat.use_remat(keras_resnet.create_model("resnet8"), "blocks")


def test_a_remat_model_saves_and_exports_standard_layers(tmp_path):
    """After a training step with remat bound, `model.save()` and the serving export write the
    plain network: safe-mode load, and the export's outputs match the model's."""
    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet8"))
    remat.use_remat(model, "blocks")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model.train_on_batch(x, np.array([1, 2]))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    path = export_model(model, str(tmp_path / "export"), Preprocessing(height=32, width=32))
    assert tf.saved_model.load(path).signatures  # it traced and wrote the serving functions


def _tiny(**overrides):
    config = cifar10.get_config("resnet8")
    config.update(dataset="digits", batch_size=32, num_epochs=None, train_steps=2, scale=0.3)
    config.update(overrides)
    return config


def test_train_entry_point_with_remat(tmp_path):
    results = train.train_and_evaluate(_tiny(remat="blocks"), str(tmp_path))
    assert results["steps"] == 1 and np.isfinite(results["test_loss"])
    # The saved model holds standard layers only and loads in safe mode.
    loaded = keras.models.load_model(str(tmp_path / "model.keras"), safe_mode=True)
    assert len(loaded.layers) == len(keras_resnet.create_model("resnet8").layers)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"remat": "everything"}, "config.remat='everything'; choose one of none, blocks, stages"),
        ({"remat": "blocks", "fused_batchnorm": False}, "needs config.fused_batchnorm=True"),
    ],
)
def test_train_refuses_bad_remat(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message) as e:
        train.train_and_evaluate(_tiny(**overrides), str(tmp_path / "run"))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()
