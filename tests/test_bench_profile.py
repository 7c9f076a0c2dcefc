"""`python -m keras_resnet.bench.profile`: the op-level profiles behind the README's served-model
write-up, read from real traces of a small export (tf.profiler's XSpace, ONEDNN_VERBOSE)."""

import pytest

import keras_resnet
from keras_resnet.bench import profile
from keras_resnet.export import export_model
from keras_resnet.export.served_inputs import Preprocessing


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("profile")
    pre = Preprocessing(height=32, width=32)
    return {
        weights: export_model(
            keras_resnet.create_model("resnet8"),
            str(root / weights),
            pre,
            precision="bfloat16",
            weights_as_constants=weights == "constants",
        )
        for weights in ("variables", "constants")
    }


def test_savedmodel_profile_splits_a_call_by_op_type(exports):
    prof = profile.savedmodel(exports["variables"], batch=2, calls=3)
    ops = prof["ops_ms"]
    assert prof["wall_ms"] > 0 and all(v >= 0 for v in ops.values())
    # The convolutions, by their oneDNN op names, and no executor bookkeeping ("::" names).
    assert any("Conv2D" in name for name in ops)
    assert not any(name in ("Process", "Run") for name in ops)
    assert list(ops.values()) == sorted(ops.values(), reverse=True)


def test_onednn_profile_shows_the_weight_reorders_that_constants_remove(exports):
    # A bfloat16 export with variables reorders every conv filter on every call; with its
    # weights as constants oneDNN keeps the reordered filters (export.savedmodel.frozen_network).
    def reorders(weights):
        ops = profile.onednn(exports[weights], batch=1, calls=2)["ops_ms"]
        assert any(name.startswith("convolution") for name in ops)
        return [name for name in ops if name.startswith("reorder")]

    assert reorders("variables")
    assert not reorders("constants")


def test_markdown_has_a_row_per_profile():
    results = {
        "calls": 2,
        "threads": 2,
        "profiles": {
            "savedmodel bf16 b1": {"wall_ms": 10.0, "ops_ms": {"_MklNativeConv2D": 8.0}},
            "savedmodel bf16 b1, oneDNN": {"ops_ms": {"convolution brg": 7.5}},
            "onnxruntime float32 b1": None,
        },
    }
    text = profile.markdown(results)
    assert "| savedmodel bf16 b1 | 10.0 | 8.0 | _MklNativeConv2D 8.0 |" in text
    assert "| savedmodel bf16 b1, oneDNN | (not timed) | 7.5 | convolution brg 7.5 |" in text
    assert "| onnxruntime float32 b1 | not run | | |" in text


def _conv_layers(model) -> int:
    import keras

    return sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


def test_every_conv_of_a_small_float32_export_is_fused(tmp_path):
    """The float32 export's graph, as TensorFlow runs it: BN folded away, grappler fuses every
    convolution with its bias (and ReLU / residual Add): no convolution runs unfused."""
    model = keras_resnet.create_model("resnet20", shortcut="B")  # B: projection convs too
    path = export_model(model, str(tmp_path / "r20"), Preprocessing(height=32, width=32))
    kinds = profile.conv_kernels(path)
    assert sum(kinds.values()) == _conv_layers(model) == 21, kinds  # 1 + 9 x 2 + 2 projections
    assert all("Fused" in kind for kind in kinds), kinds
    # The count can tell: with the filters as constants grappler fuses none of them
    # (docs/performance.md, `--weights_as_constants`).
    pre = Preprocessing(height=32, width=32)
    frozen = export_model(model, str(tmp_path / "c"), pre, weights_as_constants=True)
    kinds = profile.conv_kernels(frozen)
    assert sum(kinds.values()) == 21 and not any("Fused" in kind for kind in kinds), kinds


def test_all_53_convs_of_the_resnet50_export_are_fused(tmp_path):
    """docs/performance.md: "in ResNet-50 v1.5's optimised graph all 53 convolutions are
    fused", for the float32 export the `served` benchmark measures (about 25 s on 2 cores)."""
    from keras_resnet.bench import served

    kinds = profile.conv_kernels(served.export(str(tmp_path), "float32"))
    assert _conv_layers(served.build()) == 53
    assert sum(kinds.values()) == 53 and all("Fused" in kind for kind in kinds), kinds
