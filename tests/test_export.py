"""Export: signatures, numerical equality with the Keras model, and the files TF Serving reads."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.cli import export as export_cli
from keras_resnet.serving.tools.testing import (
    LABELS,
    SIZE,
    export_tiny,
    png,
    random_pixels,
    reference_probabilities,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    export_dir = tmp_path_factory.mktemp("export") / "tiny"
    model, pre, path = export_tiny(export_dir)
    return model, pre, path, tf.saved_model.load(path)


def test_predict_images_equals_model(exported):
    model, pre, _, loaded = exported
    pixels = random_pixels(5).astype(np.float32)
    out = loaded.signatures["predict_images"](images=tf.constant(pixels))
    expected = reference_probabilities(model, pre, pixels)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(out["classes"].numpy(), expected.argmax(-1))
    names = [n.decode() for n in out["class_names"].numpy()]
    assert names == [LABELS[c] for c in expected.argmax(-1)]


def test_serving_default_decodes_png_in_graph(exported):
    model, pre, _, loaded = exported
    pixels = random_pixels(3, seed=1)
    out = loaded.signatures["serving_default"](image_bytes=tf.constant([png(p) for p in pixels]))
    # Same size in and out: the in-graph resize is the identity, so results equal the model's.
    expected = reference_probabilities(model, pre, pixels)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    # A bigger image is resized in the graph and still classified.
    big = png(random_pixels(1, size=40)[0])
    assert loaded.signatures["serving_default"](image_bytes=tf.constant([big]))[
        "probabilities"
    ].shape == (1, 3)


def _signature_defs(path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto.meta_graphs[0].signature_def


def test_signature_names_types_and_shapes(exported):
    sigs = _signature_defs(exported[2])
    assert {"serving_default", "predict_images"} <= set(sigs)
    default, images = sigs["serving_default"], sigs["predict_images"]
    assert list(default.inputs) == ["image_bytes"]
    assert default.inputs["image_bytes"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in default.inputs["image_bytes"].tensor_shape.dim] == [-1]
    assert [d.size for d in images.inputs["images"].tensor_shape.dim] == [-1, SIZE, SIZE, 3]
    for sig in (default, images):
        assert set(sig.outputs) == {"probabilities", "classes", "class_names"}
        assert sig.outputs["probabilities"].dtype == tf.float32.as_datatype_enum
        assert sig.outputs["classes"].dtype == tf.int64.as_datatype_enum
        assert sig.outputs["class_names"].dtype == tf.string.as_datatype_enum
        names = list(sig.inputs) + list(sig.outputs)
        assert not any(n.startswith(("keras_tensor", "output_")) for n in names)


def test_no_class_names_without_labels(tmp_path):
    _, _, path = export_tiny(tmp_path / "nolabels", labels=None)
    assert set(_signature_defs(path)["serving_default"].outputs) == {"probabilities", "classes"}


def test_side_files_parse_with_tf_serving_protos(exported):
    from google.protobuf import text_format
    from tensorflow_serving.apis import prediction_log_pb2
    from tensorflow_serving.config import model_server_config_pb2

    from keras_resnet.serving.core.config import read_batching_parameters

    path = exported[2]
    export_dir = os.path.dirname(path)
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(open(os.path.join(export_dir, "models.config")).read(), config)
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path) == ("tiny", export_dir)
    assert (
        read_batching_parameters(os.path.join(export_dir, "batching_parameters.txt")).max_batch_size
        == 32
    )
    assert "prometheus_config" in open(os.path.join(export_dir, "monitoring.config")).read()
    warmup = os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(warmup)
    ]
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default"
    ] * 2
    assert list(logs[0].predict_log.request.inputs) == ["image_bytes"]


def test_app_keras_file_loads_in_safe_mode(exported):
    import keras

    model, pre, path, _ = exported
    app = keras.models.load_model(
        os.path.join(os.path.dirname(path), "tiny-1.keras"), safe_mode=True
    )
    pixels = random_pixels(2, seed=3).astype(np.float32)
    np.testing.assert_allclose(app(pixels), reference_probabilities(model, pre, pixels), atol=1e-5)


def test_cli_from_workdir_reads_mean_and_labels(tmp_path, capsys):
    from keras_resnet.serving.tools.testing import tiny_model

    workdir = tmp_path / "run"
    workdir.mkdir()
    model = tiny_model()
    model.save(workdir / "model.keras")
    mean = np.full((SIZE, SIZE, 3), 0.25, np.float32)
    np.save(workdir / "mean.npy", mean)
    (workdir / "labels.txt").write_text("a\nb\nc\n")
    # keras_resnet.training.train writes `scale` as a run-length factor: it must not touch the pixels.
    (workdir / "config.json").write_text(json.dumps({"model": "resnet8", "scale": 0.01}))
    export_dir = tmp_path / "models" / "run"
    for expected_version in (1, 2):
        assert export_cli.main([str(workdir), f"--export_dir={export_dir}"]) == 0
        assert (export_dir / str(expected_version) / "saved_model.pb").exists()
    info = json.loads((export_dir / "2" / "assets.extra" / "export_info.json").read_text())
    assert info["labels"] == ["a", "b", "c"] and info["mean_shape"] == [SIZE, SIZE, 3]
    loaded = tf.saved_model.load(str(export_dir / "2"))
    pixels = random_pixels(2).astype(np.float32)
    out = loaded.signatures["predict_images"](images=tf.constant(pixels))
    expected = tf.nn.softmax(model(pixels / 255.0 - mean)).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)


def test_cli_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        export_cli.main([str(tmp_path / "missing"), f"--export_dir={tmp_path}/m"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-resnet-export: error: No such workdir") and "\n" not in err


def test_saved_model_cli_lists_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [cli, "show", "--all", "--dir", exported[2]], capture_output=True, text=True, check=True
    ).stdout
    assert "signature_def['serving_default']" in out and "signature_def['predict_images']" in out
    assert "image_bytes" in out and "class_names" in out
