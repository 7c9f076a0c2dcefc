"""A `.keras` file opens with plain `keras.models.load_model` in a process that never imports
keras_resnet: safe mode on, no custom_objects, only standard layers."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras_resnet

LOADER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    model = keras.models.load_model(sys.argv[1])  # safe_mode defaults to True
    assert "keras_resnet" not in sys.modules, "keras_resnet was imported"
    np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
    """
)


def _roundtrip(tmp_path, model, *, recursion_limit=None):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(2, *model.input_shape[1:])).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = LOADER
    if recursion_limit:  # documented: ResNet-1202's graph is deeper than Python's default
        script = f"import sys; sys.setrecursionlimit({recursion_limit})\n" + script
    subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        check=True,
        cwd=tmp_path,  # not the repo root, so keras_resnet is not importable by accident
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), model.predict(x, verbose=0), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("resnet20", {}),  # option A: pooling + channel zero-padding layers
        ("plain20", {}),
        ("resnet18", {"input_shape": (64, 64, 3), "shortcut": "C"}),
        ("resnet50", {"input_shape": (64, 64, 3), "variant": "v1.5", "weight_decay": 1e-4}),
    ],
)
def test_keras_file_loads_without_keras_resnet(tmp_path, name, kwargs):
    _roundtrip(tmp_path, keras_resnet.create_model(name, **kwargs))


@pytest.mark.slow
def test_resnet1202_keras_file(tmp_path):
    _roundtrip(tmp_path, keras_resnet.create_model("resnet1202"), recursion_limit=30000)
