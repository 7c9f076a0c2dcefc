"""Shortcut options A/B/C (paper Section 3.3) and their parameter costs."""

import keras
import numpy as np
import pytest

import keras_resnet


def _params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _projection_params(cin, cout):
    return cin * cout + 2 * cout  # 1x1 conv without bias + BN gamma/beta


def test_option_a_is_parameter_free():
    assert _params(keras_resnet.create_model("resnet20")) == _params(
        keras_resnet.create_model("plain20")
    )
    model = keras_resnet.create_model("resnet34", shortcut="A")
    assert not any("shortcut_conv" in layer.name for layer in model.layers)


def test_option_a_subsamples_and_zero_pads():
    model = keras_resnet.create_model("resnet20")
    block_in = model.get_layer("stage1_block3_out").output
    shortcut = model.get_layer("stage2_block1_shortcut_zeropad").output
    probe = keras.Model(model.input, [block_in, shortcut])
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    a, s = (np.asarray(t) for t in probe(x))
    assert s.shape == (2, 16, 16, 32)
    np.testing.assert_array_equal(s[..., :16], a[:, ::2, ::2, :])
    assert not s[..., 16:].any()


def test_option_b_projects_only_where_shape_changes():
    a = keras_resnet.create_model("resnet20", shortcut="A")
    b = keras_resnet.create_model("resnet20", shortcut="B")
    assert _params(b) - _params(a) == _projection_params(16, 32) + _projection_params(32, 64)
    convs = [layer.name for layer in b.layers if layer.name.endswith("shortcut_conv")]
    assert convs == ["stage2_block1_shortcut_conv", "stage3_block1_shortcut_conv"]


def test_option_c_projects_every_block():
    b = keras_resnet.create_model("resnet34", shortcut="B")
    c = keras_resnet.create_model("resnet34", shortcut="C")
    convs = [layer for layer in c.layers if layer.name.endswith("shortcut_conv")]
    assert len(convs) == 16  # 3 + 4 + 6 + 3 blocks
    # C adds a projection to each of the 12 blocks that B leaves as identity.
    widths = [64] * 3 + [128] * 3 + [256] * 5 + [512] * 2
    assert _params(c) - _params(b) == sum(_projection_params(w, w) for w in widths)


def test_option_ordering_matches_table3():
    counts = [_params(keras_resnet.create_model("resnet34", shortcut=o)) for o in "ABC"]
    assert counts[0] < counts[1] < counts[2]


@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_bottleneck_with_each_option_runs(option):
    model = keras_resnet.create_model("resnet50", shortcut=option, input_shape=(64, 64, 3))
    assert model(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 1000)


def test_fully_convolutional_input():
    model = keras_resnet.create_model("resnet18", shortcut="A", input_shape=(None, None, 3))
    for size in (64, 97):
        assert model(np.zeros((1, size, size + 3, 3), "float32")).shape == (1, 1000)
    flops = keras_resnet.count_flops(model, input_shape=(224, 224, 3))
    assert flops == keras_resnet.count_flops(keras_resnet.create_model("resnet18", shortcut="A"))
