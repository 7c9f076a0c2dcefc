"""The cluster contract: the TF_CONFIG shapes TFJob, Vertex AI, TF's multi-process runner and
keras-resnet-cluster (Indexed Jobs) write give the right worker index and workdir; malformed
ones give one line, before TensorFlow starts; --tpu=local connects to no cluster."""

import json
import os
import subprocess
import sys
import types

import pytest

from keras_resnet.errors import UserError
from keras_resnet.training import cluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("TF_CONFIG", None)
W = ["w0:2222", "w1:2222"]


def _where(config) -> tuple[int, str]:
    c = cluster.parse(json.dumps(config))
    return c.worker_index, cluster.worker_workdir("gs://b/run", c)


@pytest.mark.parametrize(
    "config, index, workdir",
    [
        # TFJob with a Chief replica: the chief writes the workdir, workers after it.
        (
            {"cluster": {"chief": ["c0:2222"], "worker": W}, "task": {"type": "chief", "index": 0}},
            0,
            "gs://b/run",
        ),
        (
            {
                "cluster": {"chief": ["c0:2222"], "worker": W},
                "task": {"type": "worker", "index": 0},
            },
            1,
            "gs://b/run/worker1",
        ),
        (
            {
                "cluster": {"chief": ["c0:2222"], "worker": W},
                "task": {"type": "worker", "index": 1},
            },
            2,
            "gs://b/run/worker2",
        ),
        # TFJob without a chief (and keras-resnet-cluster): worker 0 writes the workdir.
        ({"cluster": {"worker": W}, "task": {"type": "worker", "index": 0}}, 0, "gs://b/run"),
        (
            {"cluster": {"worker": W}, "task": {"type": "worker", "index": 1}},
            1,
            "gs://b/run/worker1",
        ),
        # Vertex AI: environment, job, and the task's trial and cloud keys.
        (
            {
                "cluster": {"chief": ["cmle-chief-0:2222"], "worker": ["cmle-worker-0:2222"]},
                "environment": "cloud",
                "job": {"worker_pool_specs": [{}, {}]},
                "task": {"type": "worker", "index": 0, "trial": "3", "cloud": "abc"},
            },
            1,
            "gs://b/run/worker1",
        ),
        # Vertex's pool names (CLUSTER_SPEC style) and AI Platform's "master".
        (
            {
                "cluster": {"workerpool0": ["p0:2222"], "workerpool1": W},
                "task": {"type": "workerpool0", "index": 0},
            },
            0,
            "gs://b/run",
        ),
        (
            {
                "cluster": {"master": ["m:2222"], "worker": W},
                "task": {"type": "worker", "index": 1},
            },
            2,
            "gs://b/run/worker2",
        ),
        # TF's multi-process runner: rpc_layer on top.
        (
            {"cluster": {"worker": W}, "task": {"type": "worker", "index": 1}, "rpc_layer": "grpc"},
            1,
            "gs://b/run/worker1",
        ),
    ],
)
def test_shapes_give_worker_index_and_workdir(config, index, workdir):
    assert _where(config) == (index, workdir)


def test_normalised_for_tensorflow_keeps_extras():
    environ = {
        "TF_CONFIG": json.dumps(
            {
                "cluster": {
                    "workerpool0": ["p0:1"],
                    "workerpool1": ["p1:1"],
                    "workerpool3": ["e:1"],
                },
                "task": {"type": "workerpool1", "index": 0, "trial": "2"},
                "environment": "cloud",
            }
        )
    }
    c = cluster.normalise_environ(environ)
    assert c.num_workers == 2 and c.extras == {"environment": "cloud"}
    assert json.loads(environ["TF_CONFIG"]) == {
        "cluster": {"chief": ["p0:1"], "worker": ["p1:1"]},  # the evaluator is not training
        "task": {"type": "worker", "index": 0, "trial": "2"},
        "environment": "cloud",
    }


@pytest.mark.parametrize("text", [None, "", "  ", "{}", '{"environment": "cloud", "job": {}}'])
def test_no_cluster(text):
    assert cluster.parse(text) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("{cluster", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"cluster": ["a:1"]}', "'cluster' must be an object"),
        (
            '{"cluster": {"gpu": ["a:1"]}, "task": {"type": "gpu", "index": 0}}',
            "unknown task type 'gpu'",
        ),
        (
            '{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}',
            "must be a non-empty list of 'host:port'",
        ),
        (
            '{"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}',
            "must be a non-empty list of 'host:port'",
        ),
        ('{"cluster": {"worker": ["a:1"]}}', "'task' must be an object"),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
            "task type 'chief' is not in the cluster",
        ),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
            "task index 1 is not an integer in 0..0",
        ),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}',
            "task index '0' is not an integer",
        ),
        (
            '{"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}',
            "at most one chief",
        ),
        (
            '{"cluster": {"chief": ["a:1"], "master": ["b:1"]}, "task": {"type": "chief"}}',
            "names 'chief' twice",
        ),
        (
            '{"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}',
            "has no parameter servers",
        ),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "evaluator", "index": 0}}',
            "task type 'evaluator' is not supported",
        ),
        ('{"task": {"type": "evaluator", "index": 0}}', "task type 'evaluator' is not supported"),
    ],
)
def test_malformed_is_one_line(text, message):
    with pytest.raises(UserError) as e:
        cluster.parse(text)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_train_cli_refuses_a_bad_tf_config_before_tensorflow_starts():
    code = (
        "import sys\n"
        "from keras_resnet.cli import train\n"
        "try:\n"
        "    train.main(['keras-resnet-train', '--model=resnet8', '--workdir=/nonexistent'])\n"
        "finally:\n"
        "    print('tensorflow' in sys.modules)\n"
    )
    bad = '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}'
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**ENV, "TF_CONFIG": bad},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stdout.strip() == "False", out
    assert out.stderr.strip() == (
        "keras-resnet-train: error: TF_CONFIG: task index 3 is not an integer in 0..0 for the 1 worker task(s)."
    )


def _cluster_cli(*args, index="1", hostname_job=None):
    env = {**ENV}
    if index is not None:
        env["JOB_COMPLETION_INDEX"] = index
    show = [sys.executable, "-c", "import os; print(os.environ['TF_CONFIG'])"]
    return subprocess.run(
        [sys.executable, "-m", "keras_resnet.cli.cluster", *args, "--", *show],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_indexed_job_entrypoint_builds_tf_config_and_execs():
    out = _cluster_cli("--replicas=3", "--service=resnet-workers", "--job_name=train")
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    assert config == {
        "cluster": {"worker": [f"train-{i}.resnet-workers:2222" for i in range(3)]},
        "task": {"type": "worker", "index": 1},
    }
    assert _where(config) == (1, "gs://b/run/worker1")
    out = _cluster_cli(
        "--replicas=2", "--service=s", "--job_name=j", "--namespace=ml", "--port=3000", index="0"
    )
    assert json.loads(out.stdout)["cluster"]["worker"][1] == "j-1.s.ml.svc:3000"


@pytest.mark.parametrize(
    "args, index, message",
    [
        (("--replicas=2", "--service=s", "--job_name=j"), None, "JOB_COMPLETION_INDEX=None: run"),
        (("--replicas=2", "--service=s", "--job_name=j"), "2", "not in 0..1 (--replicas)"),
        (("--service=s", "--job_name=j"), "0", "--replicas is required"),
        (("--replicas=2", "--service=s"), "0", "pass --job_name"),  # this host is no pod
    ],
)
def test_indexed_job_entrypoint_errors_are_one_line(args, index, message):
    out = _cluster_cli(*args, index=index)
    assert out.returncode == 2 and out.stdout == "", out
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_vertex_defaults():
    environ = {"AIP_CHECKPOINT_DIR": "gs://b/ckpt", "AIP_MODEL_DIR": "gs://b/model"}
    assert cluster.vertex_defaults(environ) == {
        "workdir": "gs://b/ckpt",
        "export_dir": "gs://b/model",
    }
    assert cluster.vertex_defaults({}) == {}


@pytest.mark.parametrize("tpu, connects", [("local", False), ("", False), ("grpc://t:8470", True)])
def test_tpu_local_skips_connect_to_cluster(monkeypatch, tpu, connects):
    """No TPU here: the TPU calls are stand-ins that record what get_strategy asks of them."""
    import tensorflow as tf

    from keras_resnet.training import distribute

    calls = []
    monkeypatch.setattr(
        tf.distribute.cluster_resolver,
        "TPUClusterResolver",
        lambda tpu: types.SimpleNamespace(tpu=tpu),
    )
    monkeypatch.setattr(
        tf.config, "experimental_connect_to_cluster", lambda r: calls.append(("connect", r.tpu))
    )
    monkeypatch.setattr(
        tf.tpu.experimental, "initialize_tpu_system", lambda r: calls.append(("initialize", r.tpu))
    )
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: ("strategy", r.tpu))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.get_strategy("tpu", tpu) == ("strategy", tpu)
    expected = [("connect", tpu)] if connects else []
    assert calls == expected + [("initialize", tpu)]


@pytest.mark.slow
def test_vertex_variables_default_workdir_export_and_tensorboard(tmp_path):
    """keras-resnet-train with no --workdir on Vertex AI: AIP_* give the three locations."""
    from tests import reliability_utils as u

    env = {
        **u.ENV,
        "AIP_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "AIP_MODEL_DIR": str(tmp_path / "model"),
        "AIP_TENSORBOARD_LOG_DIR": str(tmp_path / "logs"),
        "TF_CONFIG": json.dumps({"environment": "cloud", "job": {}}),  # a one-replica job
    }
    cmd = [arg for arg in u.main_cmd("unused") if not arg.startswith("--workdir")]
    out = subprocess.run(
        [*cmd, "--config.num_epochs=1", "--config.scale=0.1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "results.json").exists()
    assert (tmp_path / "model" / "1" / "saved_model.pb").exists()
    assert (tmp_path / "model" / "1" / "assets.extra" / "export_info.json").exists()
    assert sorted(os.listdir(tmp_path / "logs")) == ["train", "validation"]
    assert f"exported {tmp_path / 'model' / '1'}" in out.stdout
