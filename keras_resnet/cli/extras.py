"""The optional extras (pyproject.toml [project.optional-dependencies]) and the check that a
console script makes before it uses one.

A bare `pip install keras_resnet` has the library (TensorFlow, Keras, TFDS) and nothing more. A
script that needs more says so in one line, `PROGRAM: error: needs the 'serving' extra (...):
pip install "keras_resnet[serving]"`, and exits 2, instead of a ModuleNotFoundError traceback from
deep inside. `--help` works without the extra: every script imports its heavy modules lazily.
"""

from __future__ import annotations

import importlib.util

from keras_resnet.cli import common
from keras_resnet.errors import MissingExtra

# Each extra and the top-level modules it installs. Looked up with find_spec, which imports
# nothing, so checking costs no start-up time. Keep in step with pyproject.toml's extras
# (tests/test_extras.py compares the two).
MODULES = {
    "serving": (
        "aiohttp",
        "grpc",
        "grpc_health",
        "tensorflow_serving",
        "prometheus_client",
        "psutil",
    ),
    "experiments": ("matplotlib",),
    "digits": ("sklearn",),
    "torch": ("torch", "torchvision"),
    "jax": ("jax", "jaxlib"),
    "bench": ("torch", "torchvision", "onnx", "onnxruntime", "openvino", "psutil"),
}


def absent(extra: str) -> list[str]:
    """The modules of `extra` that are not installed (empty: the extra is there)."""
    return [name for name in MODULES[extra] if importlib.util.find_spec(name) is None]


def check(*extras: str) -> None:
    """Raises MissingExtra for the first of `extras` not fully installed."""
    for extra in extras:
        missing = absent(extra)
        if missing:
            raise MissingExtra(extra, missing)


def require(*extras: str) -> None:
    """In a console script: the one-line error and exit 2 when one of `extras` is missing."""
    try:
        check(*extras)
    except MissingExtra as e:
        common.fail(str(e))
