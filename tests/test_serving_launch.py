"""`make serve` backend choice, the docker-compose file, and the client's command line."""

import importlib.metadata
import os
import stat

import pytest
import yaml

from keras_resnet.serving.core import thread_pools
from keras_resnet.serving.core.options import ServerOptions
from keras_resnet.serving.tools import client, launch
from keras_resnet.serving.tools.testing import (
    export_tiny,
    png,
    random_pixels,
    running_server,
    server_options,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("launch") / "tiny"
    export_tiny(path)
    return path


def _fake_binary(directory, name):
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_prefers_tensorflow_model_server(tmp_path, monkeypatch, capsys, export_dir):
    _fake_binary(tmp_path, "tensorflow_model_server")
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = [f"--model_base_path={export_dir}", "--model_name=tiny", "--host=127.0.0.1", "--dry_run"]
    assert launch.main(argv) == 0
    out = capsys.readouterr().out
    assert "using tensorflow_model_server" in out
    command = out.strip().splitlines()[-1]
    assert "--model_name=tiny" in command and "--host" not in command  # TF has no --host flag


def test_falls_back_to_embedded(tmp_path, monkeypatch, capsys, export_dir):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither binary nor docker
    assert launch.main([f"--model_base_path={export_dir}", "--dry_run"]) == 0
    assert "using the embedded server" in capsys.readouterr().out


def test_docker_command_mounts_and_ports(export_dir):
    options = ServerOptions(model_base_path=str(export_dir), port=9000)
    cmd = launch.docker_command(options, [f"--model_base_path={export_dir}", "--port=9000"])
    assert f"{export_dir}:{export_dir}:ro" in cmd
    assert "127.0.0.1:9000:9000" in cmd and "127.0.0.1:8501:8501" in cmd
    assert cmd[cmd.index(launch.IMAGE) + 1 :] == [
        f"--model_base_path={export_dir}",
        "--port=9000",
        "--rest_api_port=8501",
    ]


def test_bad_base_path_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        launch.main([f"--model_base_path={tmp_path}/nope", "--backend=docker", "--dry_run"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-resnet-serve: error: Model 'default': base path")
    assert "\n" not in err


def test_flags_pass_through_in_both_forms(tmp_path, monkeypatch, capsys, export_dir):
    """`--flag value` reaches the real binary as typed, less the embedded server's own flags
    and the launcher's, whichever form they take."""
    _fake_binary(tmp_path, "tensorflow_model_server")
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = ["--model_base_path", str(export_dir), "--host", "0.0.0.0", "--port", "9000"]
    assert launch.main([*argv, "--backend", "auto", "--enable_batching", "--dry_run"]) == 0
    command = capsys.readouterr().out.strip().splitlines()[-1]
    assert command.split()[:2] == ["serve:", "tensorflow_model_server"]
    assert command.split()[2:] == [
        "--model_base_path",
        str(export_dir),
        "--port",
        "9000",
        "--enable_batching",
        *thread_pools.flags(thread_pools.available_cpus()),  # sized here: none was typed
    ]


def test_thread_pools_reach_the_server_sized_for_this_machine_unless_typed(
    tmp_path, monkeypatch, capsys, export_dir
):
    """tensorflow_model_server and Docker get --tensorflow_{intra,inter}_op_parallelism sized
    from the CPUs this process may use; a value typed on the command line is passed as typed."""
    _fake_binary(tmp_path, "tensorflow_model_server")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(thread_pools, "available_cpus", lambda: 6.5)  # e.g. docker --cpus=6.5
    base = [f"--model_base_path={export_dir}", "--dry_run"]
    assert launch.main(base) == 0
    command = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert command[-2:] == [
        "--tensorflow_intra_op_parallelism=6",
        "--tensorflow_inter_op_parallelism=2",
    ]
    assert launch.main([*base, "--tensorflow_intra_op_parallelism=3"]) == 0
    command = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert [a for a in command if "op_parallelism" in a] == [
        "--tensorflow_intra_op_parallelism=3",
        "--tensorflow_inter_op_parallelism=2",
    ]
    monkeypatch.setattr(launch, "docker_answers", lambda timeout=5.0: True)
    monkeypatch.setenv("PATH", "")
    assert launch.main(base) == 0
    command = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert command[1:3] == ["docker", "run"]
    assert "--tensorflow_intra_op_parallelism=6" in command[command.index(launch.IMAGE) :]


def test_pool_sizes_follow_the_cpus():
    assert thread_pools.pool_sizes(0.5) == {
        thread_pools.INTRA: 1,
        thread_pools.INTER: 1,
    }
    assert thread_pools.pool_sizes(2) == {thread_pools.INTRA: 2, thread_pools.INTER: 2}
    assert thread_pools.pool_sizes(16) == {thread_pools.INTRA: 16, thread_pools.INTER: 2}


def test_docker_compose_uses_the_exported_configs():
    with open(os.path.join(ROOT, "serving", "docker-compose.yml")) as f:
        service = yaml.safe_load(f)["services"]["tensorflow-serving"]
    flags = " ".join(service["command"])
    for name in ("models.config", "batching_parameters.txt", "monitoring.config"):
        assert f"${{EXPORT_DIR}}/{name}" in flags or f"directory}}/{name}" in flags
    assert service["image"] == "${TF_SERVING_IMAGE:-" + launch.DEFAULT_IMAGE + "}"


def test_pinned_tf_serving_matches_the_tensorflow_we_export_with():
    """TF Serving releases follow TensorFlow's versions: the image that serves our exports in
    production must be the release of the TensorFlow (and serving API) that wrote them."""
    repository, tag = launch.DEFAULT_IMAGE.split(":")
    assert repository == "tensorflow/serving"
    assert tag == importlib.metadata.version("tensorflow-serving-api")
    assert tag.split(".")[:2] == importlib.metadata.version("tensorflow").split(".")[:2]


def test_client_cli_rest_and_grpc(export_dir, tmp_path, capsys):
    image = tmp_path / "x.png"
    image.write_bytes(png(random_pixels(1)[0]))
    with running_server(server_options(export_dir)) as server:
        outputs = []
        for where in (
            f"--rest=127.0.0.1:{server.rest_port}",
            f"--grpc=127.0.0.1:{server.grpc_port}",
        ):
            assert client.main([str(image), "--model=tiny", "--top_k=2", where]) == 0
            outputs.append(capsys.readouterr().out)
        assert client.main([str(image), "--model=nope", where]) == 1
        assert (
            "gRPC NOT_FOUND: Servable not found for request: Latest(nope)"
            in capsys.readouterr().err
        )
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert lines[0] == str(image) and len(lines) == 3 and "(" in lines[1]  # top class is named


def test_server_flags_parse_into_server_options():
    from absl import flags

    options = launch.parse_server_flags(["--port", "9000", "--enable_batching", "--host=0.0.0.0"])
    assert options == ServerOptions(port=9000, enable_batching=True, host="0.0.0.0")
    with pytest.raises(flags.Error, match="max_batch_sise"):
        launch.parse_server_flags(["--max_batch_sise=3"])
