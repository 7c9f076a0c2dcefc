"""The server's log: Python logging with timestamp, level and source, and the devices it found."""

import logging
import os
import re

import pytest
import tensorflow as tf

from keras_resnet.serving.core import logs
from keras_resnet.serving.tools.testing import export_tiny, running_server, server_options

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR) ([\w.]+):\d+\] "
)


@pytest.fixture
def configured():
    """logs.configure() for one test, then the loggers as they were."""
    names = ("keras_resnet.serving", "aiohttp", "grpc")
    saved = {
        n: (
            logging.getLogger(n).handlers[:],
            logging.getLogger(n).level,
            logging.getLogger(n).propagate,
        )
        for n in names
    }
    yield logs.configure
    for name, (handlers, level, propagate) in saved.items():
        target = logging.getLogger(name)
        target.handlers[:], target.propagate = handlers, propagate
        target.setLevel(level)


def test_lines_carry_time_level_and_source(configured, capsys):
    configured("info")
    logging.getLogger("keras_resnet.serving.core.manager").info(
        "Successfully loaded servable version {name: x}"
    )
    logging.getLogger("keras_resnet.serving.core.rest").debug("not at info")
    logging.getLogger("keras_resnet.serving.core.rest").error("Internal error on GET /v1/x")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    first, second = (LINE.match(line) for line in lines)
    assert first.groups() == ("INFO", "keras_resnet.serving.core.manager") and lines[0].endswith(
        "{name: x}"
    )
    assert second.groups() == ("ERROR", "keras_resnet.serving.core.rest")
    configured("debug")
    logging.getLogger("keras_resnet.serving.core.rest").debug("now shown")
    assert LINE.match(capsys.readouterr().err).group(1) == "DEBUG"


def test_devices_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="keras_resnet.serving"):
        logs.log_devices()
    messages = [
        r.getMessage() for r in caplog.records if r.name == "keras_resnet.serving.core.logs"
    ]
    # keras_resnet.machine's description, as training logs it: versions, the CPU, each GPU.
    assert messages[0] == f"TensorFlow {tf.__version__}"
    with open("/proc/cpuinfo") as f:
        model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    assert messages[1].startswith(f"CPU: {model}, {os.cpu_count()} logical cores")
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        assert [m.split(":")[0] for m in messages[2:]] == [f"GPU {i}" for i in range(len(gpus))]
    else:
        assert messages[2] == "GPU: none found"


def test_server_start_is_logged(tmp_path, caplog):
    export_tiny(tmp_path / "tiny")
    with caplog.at_level(logging.INFO, logger="keras_resnet.serving"):
        with running_server(server_options(tmp_path / "tiny", rest_api_port=0)) as server:
            port = server.grpc_port
    messages = [(r.levelname, r.name, r.getMessage()) for r in caplog.records]
    assert (
        "INFO",
        "keras_resnet.serving.core.server",
        f"Running gRPC ModelServer at 127.0.0.1:{port} ...",
    ) in messages
    loaded = "Successfully loaded servable version {name: tiny version: 1} ("  # + warm-ups
    assert any(
        r[:2] == ("INFO", "keras_resnet.serving.core.manager") and r[2].startswith(loaded)
        for r in messages
    )
    assert any(m.startswith("CPU: ") for _, _, m in messages)
    assert messages[-1] == ("INFO", "keras_resnet.serving.core.server", "Server stopped.")
