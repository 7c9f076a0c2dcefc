"""`keras-resnet-export --precision=bfloat16|float16`: the SavedModel computes in that precision,
takes and returns float32, and agrees with the float32 export.

Stated tolerances, on softmax probabilities: bfloat16 (8 significant bits) within 0.05 of
float32, float16 (11 bits) within 0.01; the top-1 class agrees on at least 99% of the digits
test set, and accuracy moves by at most one point. Measured on the digits model below (runs
differ a little): bfloat16 0.013-0.016 at most, float16 0.002, at most one flip in 360 images.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet.cli import export as export_cli
from keras_resnet.export import folding
from keras_resnet.serving.tools.testing import http, running_server, server_options
from tests.test_folding import randomize_bn

TOLERANCE = {"bfloat16": 0.05, "float16": 0.01}


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_low_precision_model_agrees_with_float32(precision):
    model = keras_resnet.create_model("resnet20")
    x = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype(np.float32)
    randomize_bn(model, x)
    low = folding.inference_model(model, precision)
    convs = [layer for layer in low.layers if layer.name.endswith(("_conv", "_conv1", "_conv2"))]
    assert convs and {layer.compute_dtype for layer in convs} == {precision}
    assert {layer.kernel.dtype for layer in convs} == {precision}  # no per-call weight casts
    out = low(x)
    assert out.dtype == "float32" and low.get_layer("logits").compute_dtype == "float32"
    expected = tf.nn.softmax(model(x, training=False)).numpy()
    got = tf.nn.softmax(out).numpy()
    assert np.abs(got - expected).max() <= TOLERANCE[precision]


@pytest.fixture(scope="module")
def digits_exports(tmp_path_factory):
    """resnet8 trained briefly on the offline digits data (~90% test accuracy; ~25 s on 2 idle
    cores), exported through the CLI in float32 and float16 (the default weights: variables) and
    bfloat16 (weights forced to variables); and the digits test images."""
    from keras_resnet import data
    from keras_resnet.configs import cifar10
    from keras_resnet.training import train

    root = tmp_path_factory.mktemp("digits")
    config = cifar10.get_config("resnet8")
    config.dataset = "digits"
    config.batch_size = 64
    config.num_epochs = 5
    train.train_and_evaluate(config, str(root / "run"))
    paths = {}
    for precision in ("float32", "bfloat16", "float16"):
        argv = [str(root / "run"), f"--export_dir={root / precision}", f"--precision={precision}"]
        if precision == "bfloat16":
            argv.append("--weights_as_constants=false")  # not the default there: forced
        assert export_cli.main(argv) == 0
        paths[precision] = str(root / precision / "1")
    source = data.load_source("digits", model_style=data.SMALL, model_classes=10)
    images, labels = (np.stack(a) for a in zip(*source.test.as_numpy_iterator()))
    return paths, images.astype(np.float32), labels


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_low_precision_export_agrees_with_float32_on_digits(digits_exports, precision):
    paths, images, labels = digits_exports
    out = {}
    for p in ("float32", precision):
        loaded = tf.saved_model.load(paths[p])
        result = loaded.signatures["predict_images"](images=tf.constant(images))
        assert result["probabilities"].dtype == tf.float32
        out[p] = result["probabilities"].numpy()
    f32, low = out["float32"], out[precision]
    assert (f32.argmax(-1) == labels).mean() > 0.8  # a trained model, not near-ties everywhere
    assert np.abs(low - f32).max() <= TOLERANCE[precision]
    assert (low.argmax(-1) == f32.argmax(-1)).mean() >= 0.99
    assert abs((low.argmax(-1) == labels).mean() - (f32.argmax(-1) == labels).mean()) <= 0.01


def _graph_filters(path):
    """The 4-D conv filters stored as constants in the SavedModel's functions (the (1, 1, 1, 3)
    mean and std of the input excluded)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    library = saved.meta_graphs[0].graph_def.library.function
    consts = [n.attr["value"].tensor for fn in library for n in fn.node_def if n.op == "Const"]
    return [t for t in consts if len(t.tensor_shape.dim) == 4 and t.tensor_shape.dim[0].size > 1]


def test_low_precision_export_stores_its_weights_in_that_precision_and_says_so(digits_exports):
    import json

    paths, _, _ = digits_exports
    for precision, path in paths.items():
        reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
        dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
        kernels = {dtypes[name] for name, shape in shapes.items() if len(shape) == 4}  # convs
        assert kernels == {tf.as_dtype(precision)}
        assert not _graph_filters(path)  # variables by default, not also constants
        with open(os.path.join(path, "assets.extra", "export_info.json")) as f:
            info = json.load(f)
        assert info["precision"] == precision and info["weights"] == "variables"
        # float32 and float16 chose variables by themselves (auto); bfloat16 was told to.
        assert info["weights_as_constants"] == ("false" if precision == "bfloat16" else "auto")


def test_bfloat16_export_stores_its_weights_as_constants_by_default(digits_exports, tmp_path):
    """A bfloat16 export with no --weights_as_constants flag (auto, the default): the filters
    are graph constants (stored once, in bfloat16), no conv weights are left as variables, the
    choice is recorded, the outputs are those of the export with variables, and our embedded
    server serves it."""
    import json

    paths, images, _ = digits_exports
    run = os.path.dirname(os.path.dirname(paths["bfloat16"]))
    out = str(tmp_path / "constants")
    assert export_cli.main([f"{run}/run", f"--export_dir={out}", "--precision=bfloat16"]) == 0
    filters = _graph_filters(f"{out}/1")
    assert len(filters) == 7  # ResNet-8: the stem and 3 stages x 2 convs (option A), once
    assert {tf.as_dtype(t.dtype) for t in filters} == {tf.bfloat16}
    reader = tf.train.load_checkpoint(f"{out}/1/variables/variables")
    assert not [s for s in reader.get_variable_to_shape_map().values() if len(s) == 4]
    with open(f"{out}/1/assets.extra/export_info.json") as f:
        info = json.load(f)
    assert info["weights"] == "constants" and info["weights_as_constants"] == "auto"
    x = tf.constant(images[:64])
    predict = {
        p: tf.saved_model.load(p).signatures["predict_images"]
        for p in (paths["bfloat16"], f"{out}/1")
    }
    a, b = (predict[p](images=x)["probabilities"].numpy() for p in predict)
    np.testing.assert_allclose(a, b, atol=1e-6)
    # Our embedded server loads it (warm-up requests included) and serves those outputs.
    request = {"signature_name": "predict_images", "inputs": images[:4].tolist()}
    with running_server(server_options(model_name="digits", model_base_path=out)) as server:
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/digits:predict"
        status, body = http("POST", url, request)
    assert status == 200, body
    np.testing.assert_allclose(body["outputs"]["probabilities"], b[:4], atol=1e-5)


def test_weights_as_constants_true_forces_constants_on_float32(digits_exports, tmp_path):
    import json

    paths, images, _ = digits_exports
    run = os.path.dirname(os.path.dirname(paths["float32"]))
    out = str(tmp_path / "f32")
    argv = [f"{run}/run", f"--export_dir={out}", "--weights_as_constants=true"]
    assert export_cli.main(argv) == 0
    assert len(_graph_filters(f"{out}/1")) == 7
    with open(f"{out}/1/assets.extra/export_info.json") as f:
        info = json.load(f)
    assert info["weights"] == "constants" and info["weights_as_constants"] == "true"


def test_weights_as_constants_refuses_other_values_in_one_line(digits_exports, tmp_path, capsys):
    paths, _, _ = digits_exports
    run = os.path.dirname(os.path.dirname(paths["float32"]))
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main([f"{run}/run", f"--export_dir={tmp_path}", "--weights_as_constants=yes"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "weights_as_constants" in err and "Traceback" not in err
