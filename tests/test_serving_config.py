"""Config files are parsed as protobuf text format against TF Serving's message definitions: a
typo, a bad value or a repeated field stops start-up with one line naming file, line and field,
and a setting inside a comment is a comment."""

import os
import subprocess

import pytest

from keras_resnet.serving.core import config, protos
from keras_resnet.serving.tools import launch
from keras_resnet.serving.tools.testing import export_tiny, http, running_server, server_options

# Every BatchingParameters field TF Serving defines, as its docs write them, comments included.
FULL_BATCHING = """# tuned for 2 cores
max_batch_size { value: 16 }
batch_timeout_micros { value: 2000 }  # 2 ms
max_enqueued_batches { value: 8 }
num_batch_threads { value: 2 }
thread_pool_name { value: "model_batches" }
allowed_batch_sizes: 8
allowed_batch_sizes: 16
pad_variable_length_inputs: false
enable_large_batch_splitting { value: false }
max_execution_batch_size { value: 16 }
# max_batch_size { value: 1 }
"""

BATCHING_ERRORS = [
    # (file text, line, what the one-line error must say)
    ("max_batch_size { value: 8 }\nmax_batch_sise { value: 8 }\n", 2,
     'Message type "tensorflow.serving.BatchingParameters" has no field named "max_batch_sise".'),
    ("max_batch_size { value: eight }\n", 1,
     'field "max_batch_size": Couldn\'t parse integer: eight'),
    ("max_batch_size: 8\n", 1, 'field "max_batch_size": Expected "{".'),
    ("max_batch_size { value: 99999999999999999999 }\n", 1,
     'field "max_batch_size": Value out of range'),
    ('thread_pool_name { value: 5 }\n', 1, 'field "thread_pool_name": Expected string'),
    ("max_batch_size { value: 8 }\nmax_batch_size { value: 9 }\n", 2,
     'should not have multiple "max_batch_size" fields'),
    ("max_batch_size { value: 8 }\n\nnum_batch_threads { value: 0 }\n", 3,
     'field "num_batch_threads": must be >= 1, got 0'),
    ("batch_timeout_micros { value: -5 }\n", 1,
     'field "batch_timeout_micros": must be >= 0, got -5'),
    ("num_batch_threads { value: 100000 }\n", 1, 'field "num_batch_threads": must be <= 1024'),
    ("max_batch_size { value: 8 }\nallowed_batch_sizes: 2\nallowed_batch_sizes: 4\n", 3,
     "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; "
     "expected 8"),
    ("max_batch_size { value: 8 }\nallowed_batch_sizes: 8\nallowed_batch_sizes: 2\n", 3,
     'field "allowed_batch_sizes": must be positive and increasing'),
]  # fmt: skip


def _write(tmp_path, text: str, name: str = "config.txt") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_descriptors_match_tf_serving_field_numbers():
    message = protos.batching_parameters_class().DESCRIPTOR
    assert message.full_name == "tensorflow.serving.BatchingParameters"
    numbers = {
        f.name: (f.number, f.message_type.name if f.message_type else None) for f in message.fields
    }
    assert numbers["max_batch_size"] == (1, "Int64Value")
    assert numbers["thread_pool_name"] == (5, "StringValue")
    assert numbers["allowed_batch_sizes"][0] == 6 and numbers["pad_variable_length_inputs"][0] == 7
    monitoring = protos.monitoring_config_class().DESCRIPTOR
    prometheus = monitoring.fields_by_name["prometheus_config"].message_type
    assert (monitoring.full_name, prometheus.full_name) == (
        "tensorflow.serving.MonitoringConfig",
        "tensorflow.serving.PrometheusConfig",
    )
    assert [(f.name, f.number) for f in prometheus.fields] == [("enable", 1), ("path", 2)]


def test_full_batching_file_parses(tmp_path):
    params = config.read_batching_parameters(_write(tmp_path, FULL_BATCHING))
    assert params == config.BatchingParameters(
        max_batch_size=16,
        batch_timeout_micros=2000,
        num_batch_threads=2,
        max_enqueued_batches=8,
        thread_pool_name="model_batches",
    )
    assert config.read_batching_parameters("") == config.BatchingParameters()


@pytest.mark.parametrize("text, line, reason", BATCHING_ERRORS)
def test_batching_errors_are_one_line_naming_file_line_and_field(tmp_path, text, line, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        config.read_batching_parameters(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ('prometheus_config {\n  enable: true\n  path: "/metrics"\n}\n', "/metrics"),
        ("prometheus_config { enable: true }", config.DEFAULT_METRICS_PATH),
        ("prometheus_config { enable: false path: '/metrics' }", None),
        ("# prometheus_config { enable: true }\n", None),  # a comment, not a setting
        ("prometheus_config {\n  # enable: true\n}\n", None),
        ("", None),  # an empty MonitoringConfig turns nothing on, as in TF Serving
    ],
)
def test_monitoring_config(tmp_path, text, expected):
    assert config.read_monitoring_config(_write(tmp_path, text)) == expected


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("prometheus_config {\n  enabel: true\n}\n", 2,
         'Message type "tensorflow.serving.PrometheusConfig" has no field named "enabel".'),
        ("prometheus_config { enable: yes }\n", 1, 'field "enable": Expected "true" or "false"'),
        ('prometheus_config {\n enable: true\n path: "metrics"\n}', 3,
         'field "path": must be a URL path starting with /'),
        ("enable: true\n", 1, 'has no field named "enable"'),
    ],
)  # fmt: skip
def test_monitoring_errors(tmp_path, text, line, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        config.read_monitoring_config(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and reason in str(info.value)


def test_model_config_typo_names_file_line_and_field(tmp_path):
    path = _write(tmp_path, 'model_config_list {\n  config {\n    nmae: "tiny"\n  }\n}\n')
    with pytest.raises(ValueError) as info:
        config.read_model_config_file(path)
    assert str(info.value) == (
        f'{path}:3: Message type "tensorflow.serving.ModelConfig" has no field named "nmae".'
    )


def test_misspelt_batching_field_stops_the_server_with_one_line(tmp_path):
    export_tiny(tmp_path / "tiny")
    params = _write(tmp_path, "max_batch_size { value: 8 }\nmax_batch_sise { value: 8 }\n")
    options = server_options(
        tmp_path / "tiny", enable_batching=True, batching_parameters_file=str(params)
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        launch.embedded_command(options),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'keras-resnet-serve: error: {params}:2: Message type "tensorflow.serving.BatchingParameters" '
        'has no field named "max_batch_sise".'
    ]


def test_commented_out_monitoring_leaves_metrics_off(tmp_path):
    export_tiny(tmp_path / "tiny")
    monitoring = _write(tmp_path, "# prometheus_config { enable: true }\n", "monitoring.config")
    options = server_options(tmp_path / "tiny", monitoring_config_file=str(monitoring))
    with running_server(options) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        assert http("GET", f"{url}{config.DEFAULT_METRICS_PATH}")[0] == 404
        assert http("GET", f"{url}/v1/models/tiny")[0] == 200
