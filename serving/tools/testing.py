"""Test utilities for export and serving: a tiny exported model and servers on free ports of
127.0.0.1. Tiny = resnet8 on 16x16 inputs with 3 classes, so everything stays fast."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np

import keras_resnet
from keras_resnet.export import export_model
from keras_resnet.export.served_inputs import Preprocessing

from ..core.options import ServerOptions

SIZE = 16
LABELS = ["cat", "dog", "bird"]


def tiny_model(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras_resnet.create_model("resnet8", input_shape=(SIZE, SIZE, 3), num_classes=3)


def tiny_preprocessing(labels=LABELS) -> Preprocessing:
    # A per-pixel mean, as the paper's CIFAR recipe subtracts, to check it is applied in-graph.
    mean = np.linspace(0.3, 0.6, SIZE * SIZE * 3, dtype=np.float32).reshape(SIZE, SIZE, 3)
    return Preprocessing(height=SIZE, width=SIZE, mean=mean, labels=labels)


def export_tiny(export_dir, seed: int = 0, version=None, labels=LABELS):
    """Exports a freshly initialised tiny model; returns (model, preprocessing, version dir)."""
    model = tiny_model(seed)
    pre = tiny_preprocessing(labels)
    path = export_model(model, str(export_dir), pre, version=version, model_name="tiny")
    return model, pre, path


def reference_probabilities(model, pre: Preprocessing, pixels: np.ndarray) -> np.ndarray:
    """softmax(model(normalised pixels)) computed in-process, the number serving must match."""
    import tensorflow as tf

    x = pixels.astype(np.float32) * pre.scale - pre.mean
    return tf.nn.softmax(model(x, training=False)).numpy()


def png(pixels: np.ndarray) -> bytes:
    import tensorflow as tf

    return tf.io.encode_png(pixels.astype(np.uint8)).numpy()


def random_pixels(n: int, seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.uint8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_options(export_dir=None, **changes) -> ServerOptions:
    """Options for a server on free ports serving the tiny model in `export_dir` (or what
    `changes` name, e.g. model_config_file=), with `changes` made."""
    model = dict(model_name="tiny", model_base_path=str(export_dir)) if export_dir else {}
    return ServerOptions(**{"port": free_port(), "rest_api_port": free_port(), **model, **changes})


@contextlib.contextmanager
def running_server(options: ServerOptions):
    """An in-process ModelServer, stopped (gracefully) on exit."""
    from ..core.server import ModelServer

    server = ModelServer(options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def http(method: str, url: str, body=None, timeout: float = 60) -> tuple[int, dict | str]:
    """(status, parsed JSON or text) without raising on HTTP errors."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class ServerProcess:
    """The embedded server for `options` in a process of its own (so its RSS is its own and
    client and server share no GIL), as a context manager: entering waits until the model's
    status answers 200, leaving stops it. stderr goes to `log_path`, or nowhere."""

    def __init__(self, options: ServerOptions, log_path: str | None = None, startup_seconds=300):
        from .launch import embedded_command

        self.options, self.log_path, self.startup_seconds = options, log_path, startup_seconds
        self.rest_port, self.grpc_port = options.rest_api_port, options.port
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen(
            embedded_command(options), env=env, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def _up(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.rest_port}/v1/models/{self.options.model_name}"
            return http("GET", url, timeout=2)[0] == 200
        except OSError:
            return False

    def __enter__(self):
        if wait_for(lambda: self.proc.poll() is not None or self._up(), self.startup_seconds):
            if self.proc.poll() is None:
                return self
            problem = "the embedded server exited during start-up"
        else:
            problem = f"the embedded server did not start within {self.startup_seconds} s"
        self.__exit__()
        raise RuntimeError(problem + (f"; see {self.log_path}" if self.log_path else ""))

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=120)
        if self._log is not subprocess.DEVNULL:
            self._log.close()


def wait_for(predicate, timeout: float = 60.0) -> bool:
    """Polls `predicate` every 0.1 s until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
