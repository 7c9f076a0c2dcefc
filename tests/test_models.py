"""The model zoo: every registered model builds and runs; counts match the paper exactly."""

from pathlib import Path

import keras
import numpy as np
import pytest

import keras_resnet
from experiments import paper
from keras_resnet.models import registry

# experiments/paper.py: trainable parameters (ImageNet nets with option B and 1000 classes, the
# same as torchvision's; CIFAR nets with option A and 10 classes) and Table 1's multiply-adds.
PAPER_PARAMS = paper.PARAMS
PAPER_GFLOPS = paper.GFLOPS

SLOW_MODELS = {"resnet1202"}


def _params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _model_params(name):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_MODELS else n for n in name]


@pytest.mark.parametrize("name", _model_params(keras_resnet.list_models()))
def test_build_and_forward(name):
    spec = keras_resnet.get_spec(name)
    model = keras_resnet.create_model(name)
    assert model.name == name
    x = np.random.default_rng(0).normal(size=(2, *spec.default_input_shape)).astype("float32")
    # Untrained BN in inference mode is the identity, so each of ResNet-1202's 600 identity
    # blocks about doubles the activations' variance (2^600 overflows float32, as it would in
    # the paper's net). With batch statistics, as when it trains, it stays finite.
    y = model(x, training=sum(spec.stage_sizes) > 100)
    assert tuple(y.shape) == (2, spec.default_num_classes)
    assert np.all(np.isfinite(np.asarray(y)))
    if name in PAPER_PARAMS:
        assert _params(model) == PAPER_PARAMS[name]
    if name in PAPER_GFLOPS:
        gflops, expected = keras_resnet.count_flops(model) / 1e9, PAPER_GFLOPS[name]
        assert abs(gflops - expected) / expected < paper.GFLOPS_TOLERANCE, gflops


def test_zoo_has_the_papers_architectures():
    """Table 1's stacks and Section 4.2's 6n+2 nets, as the registry builds them; every net the
    paper counts or times is registered, so the zoo test above checks it."""
    for name, (stages, block) in paper.IMAGENET_BLOCKS.items():
        spec = keras_resnet.get_spec(name)
        assert (spec.stage_sizes, spec.block, spec.residual) == (stages, block, True), name
        assert spec.default_num_classes == paper.IMAGENET_CLASSES
    for name, n in paper.CIFAR_DEPTHS.items():
        spec = keras_resnet.get_spec(name)
        assert spec.stage_sizes == (n, n, n) and spec.block == "basic", name
        assert spec.depth == 6 * n + 2 == int(name[6:]) and spec.default_shortcut == "A"
        assert spec.default_num_classes == paper.CIFAR_CLASSES
        # Table 6 prints the same counts rounded to two or three significant figures.
        assert round(paper.PARAMS[name] / 1e6, 2 if n < 18 else 1) == paper.TABLE6_PARAMS_M[name]
    assert set(paper.GFLOPS) == set(paper.IMAGENET_BLOCKS) <= set(keras_resnet.list_models())
    assert set(paper.PARAMS) <= set(keras_resnet.list_models())
    for name in set(paper.TABLE6_ERROR) | set(paper.TABLE2_TOP1) | set(paper.FIGURE7_MODELS):
        assert name in keras_resnet.list_models(), name


def test_v15_resnet50_flops():
    # Moving the stride to the 3x3 conv makes stages 3-5's first 1x1 convs run at full size.
    gflops = keras_resnet.count_flops(keras_resnet.create_model("resnet50", variant="v1.5")) / 1e9
    expected = paper.GFLOPS_V15["resnet50"]
    assert abs(gflops - expected) / expected < paper.GFLOPS_TOLERANCE, gflops


def test_any_6n_plus_2_depth():
    model = keras_resnet.create_model("resnet164")  # n = 27
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 81
    assert keras_resnet.get_spec("resnet164").depth == 164
    assert keras_resnet.get_spec("plain26").stage_sizes == (4, 4, 4)


def test_list_models_names():
    names = keras_resnet.list_models()
    expected = {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34",
        "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
        "plain20", "plain32", "plain44", "plain56", "plain110",
    }  # fmt: skip
    assert set(names) == expected and len(names) == len(expected)


def test_block_structure_and_names():
    model = keras_resnet.create_model("resnet50")
    names = [layer.name for layer in model.layers]
    assert names == [layer.name for layer in keras_resnet.create_model("resnet50").layers]
    assert "stage3_block2_conv1" in names and "stage5_block3_out" in names
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 16
    for layer in model.layers:
        if isinstance(layer, keras.layers.Add):
            # Every residual block ends in Add() then ReLU (Figure 2).
            (consumer,) = [
                other for other in model.layers
                if any(n.operation is layer for n in _inbound(other))
            ]  # fmt: skip
            assert isinstance(consumer, keras.layers.ReLU), consumer.name
        if isinstance(layer, keras.layers.Conv2D):
            assert not layer.use_bias
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.momentum == 0.9 and layer.epsilon == 1e-5


def _inbound(layer):
    nodes = []
    for node in layer._inbound_nodes:
        nodes.extend(t._keras_history for t in node.input_tensors)
    return nodes


def test_bottleneck_variants_place_stride():
    v1 = keras_resnet.create_model("resnet50")
    v15 = keras_resnet.create_model("resnet50", variant="v1.5")
    assert v1.get_layer("stage3_block1_conv1").strides == (2, 2)
    assert v1.get_layer("stage3_block1_conv2").strides == (1, 1)
    assert v15.get_layer("stage3_block1_conv1").strides == (1, 1)
    assert v15.get_layer("stage3_block1_conv2").strides == (2, 2)
    assert _params(v1) == _params(v15)


def test_plain_nets_have_no_shortcut():
    model = keras_resnet.create_model("plain34")
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    assert not any("shortcut" in layer.name for layer in model.layers)


def test_mixed_precision_head_stays_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras_resnet.create_model("resnet20")
        assert model.get_layer("stage1_block1_conv1").compute_dtype == "bfloat16"
        y = model(np.zeros((1, 32, 32, 3), "float32"))
        assert y.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_weight_decay_is_coupled_l2():
    model = keras_resnet.create_model("resnet20", weight_decay=1e-4)
    conv = model.get_layer("stem_conv")
    # Paper: lambda * w added to the gradient == (lambda / 2) * ||w||^2 in the loss.
    assert conv.kernel_regularizer.l2 == pytest.approx(5e-5)
    assert len(model.losses) == sum(
        isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) for layer in model.layers
    )
    assert registry.get_spec("resnet20").default_shortcut == "A"


@pytest.mark.slow
def test_docs_show_the_models_table():
    """docs/models.md's table is what `keras-resnet-models` prints (every model is built)."""
    from keras_resnet.models.table import format_table, model_rows

    models_doc = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    assert format_table(model_rows()) in models_doc
