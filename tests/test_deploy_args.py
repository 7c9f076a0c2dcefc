"""Every container command line in deploy/ is one its program accepts: keras-resnet-train's args
go through the CLI's own absl parse path (the packaged recipe, config_flags' --config.KEY
overrides), tensorflow_model_server's through keras-resnet-serve's parser of its flags, and
keras-resnet-cluster's fixed wrapper interface is parsed here, its wrapped command in turn."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys

import pytest
from absl import flags

from deploy import generate, inference, pods, training_jobs
from keras_resnet.cli import train
from keras_resnet.serving.tools import launch

# The flags train._define_flags defines (a test run may hold other definitions of these names).
TRAIN_FLAGS = {"config", "workdir", "strategy", "tpu", "virtual_cpus"}


def parse_train(args: list[str]) -> dict:
    """keras-resnet-train's flag values for `args`, as its main() parses them, without training;
    the flags are defined for the parse and removed after (the CLI defines them once per
    process). Raises on anything the CLI would refuse."""
    argv = train._with_recipe([pods.TRAIN_CONSOLE_SCRIPT, *args])
    before = set(flags.FLAGS)
    saved_argv, was_parsed = sys.argv, flags.FLAGS.is_parsed()
    # Another test may have defined a flag of the same name: set it aside meanwhile.
    aside = {name: flags.FLAGS[name] for name in before & TRAIN_FLAGS}
    for name in aside:
        delattr(flags.FLAGS, name)
    values = train._define_flags()
    try:
        sys.argv = argv  # config_flags reads its --config.KEY overrides from sys.argv
        rest = flags.FLAGS(argv)
        assert rest == argv[:1], f"train refuses positional arguments: {rest[1:]}"
        return {name: flag.value for name, flag in values.items()}
    finally:
        sys.argv = saved_argv
        for name in (set(flags.FLAGS) - before) | set(values):
            if name in flags.FLAGS:
                delattr(flags.FLAGS, name)
        for name, flag in aside.items():
            flags.FLAGS[name] = flag
        if not was_parsed:
            flags.FLAGS.unparse_flags()


def parse_cluster(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """keras-resnet-cluster's interface: --replicas, --service, --port, `--`, the command."""
    split = args.index("--")
    parser = argparse.ArgumentParser(prog=pods.CLUSTER_CONSOLE_SCRIPT, exit_on_error=False)
    parser.add_argument("--replicas", type=int, required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--port", type=int, default=pods.TF_PORT)
    wrapper = parser.parse_args(args[:split])
    assert wrapper.replicas >= 1 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", wrapper.service)
    return wrapper, args[split + 1 :]


def check_serving(args: list[str]) -> dict:
    """tensorflow_model_server's flags, none that only the embedded server knows, parsed as
    keras-resnet-serve parses them (ServerOptions, one field per flag)."""
    own = [a for a in args if a.lstrip("-").split("=")[0] in launch.EMBEDDED_ONLY]
    assert not own, f"tensorflow_model_server has no {own}"
    return dataclasses.asdict(launch.parse_server_flags(args))


def check_train(args: list[str], platform_workdir: bool = False) -> dict:
    values = parse_train(args)
    assert values["config"].model == pods.MODEL
    assert values["config"].data.data_dir == pods.DATA_DIR
    assert values["workdir"] == (None if platform_workdir else pods.WORKDIR)
    return values


def _entrypoint() -> str:
    """The training image's ENTRYPOINT program, read from the committed Dockerfile."""
    line = next(x for x in generate.render("Dockerfile").splitlines() if x.startswith("ENTRYPOINT"))
    return re.fullmatch(r'ENTRYPOINT \["([^"]+)"\]', line).group(1)


def command_lines():
    """(file, program, args) for every container in deploy/ that is given args."""
    for name in generate.FILES:
        if not name.endswith(".yaml"):
            continue
        for doc in generate.committed(name):
            for container in _containers(doc):
                if "args" in container and "modelFormat" in container:
                    # KServe's TensorFlow runtime adds these to tensorflow_model_server's flags.
                    assert container["modelFormat"]["name"] == "tensorflow"
                    yield name, "tensorflow_model_server", container["args"]
                elif "args" in container:
                    image = container.get("image") or container.get("imageUri")
                    # Without a command, the image's entrypoint runs (ours: keras-resnet-train).
                    default = _entrypoint() if image.startswith(pods.TRAIN_REPOSITORY) else image
                    program = container.get("command", [default])[0]
                    yield name, program, container["args"]


def _containers(node):
    if isinstance(node, dict):
        if "args" in node:
            yield node
        for value in node.values():
            yield from _containers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _containers(value)


def test_every_command_line_parses():
    checked = {}
    for name, program, args in command_lines():
        if program == pods.TRAIN_CONSOLE_SCRIPT:
            values = check_train(args, platform_workdir="vertex" in name)
        elif program == pods.CLUSTER_CONSOLE_SCRIPT:
            wrapper, command = parse_cluster(args)
            assert command[0] == pods.TRAIN_CONSOLE_SCRIPT
            values = check_train(command[1:])
        else:
            assert program == "tensorflow_model_server", (name, program)
            values = check_serving(args)
        checked.setdefault(name, []).append(values)
    assert set(checked) == {n for n in generate.FILES if n.endswith(".yaml")}
    assert checked["gke-tpu-job.yaml"][0]["strategy"] == "tpu"
    assert checked["gke-tpu-job.yaml"][0]["tpu"] == "local"
    assert all(v["strategy"] == "multi_worker" for v in checked["tfjob.yaml"])
    assert checked["tf-serving.yaml"][0]["model_base_path"] == pods.EXPORT_DIR


def test_serving_thread_pools_follow_the_cpu_the_pod_requests():
    """TensorFlow's pools are sized from the serving pod's CPU request (2: intra-op 2,
    inter-op 2), in both the Deployment and the InferenceService, not left to TensorFlow,
    which would size them for the node."""
    servers = [(n, a) for n, p, a in command_lines() if p == "tensorflow_model_server"]
    assert {name for name, _ in servers} == {"tf-serving.yaml", "kserve.yaml"}
    for name in ("tf-serving.yaml", "kserve.yaml"):
        resources = [
            node["resources"]["requests"]["cpu"]
            for doc in generate.committed(name)
            for node in _containers(doc)
        ]
        assert resources == [str(inference.CPUS)] == ["2"], name
    for _, args in servers:
        values = check_serving(args)
        assert values["tensorflow_intra_op_parallelism"] == 2
        assert values["tensorflow_inter_op_parallelism"] == 2


def test_the_parsers_refuse_what_the_programs_refuse():
    with pytest.raises(flags.Error, match="strategy"):
        parse_train(["--model=resnet50", "--strategy=parameter_server"])
    with pytest.raises(AttributeError, match="nope"):
        parse_train(["--model=resnet50", "--config.nope=1"])
    with pytest.raises(flags.Error, match="no_such_flag"):
        check_serving(["--model_name=x", "--no_such_flag=1"])
    with pytest.raises(AssertionError, match="max_concurrent_requests"):
        check_serving(["--max_concurrent_requests=4"])


def test_the_cluster_wrapper_matches_the_job_and_its_service():
    """keras-resnet-cluster names pods `<service>-<index>.<service>`: the Job, its pods'
    subdomain and the headless Service must all carry the wrapper's --service name, and the
    Job run --replicas pods on the wrapper's --port."""
    service, job = generate.committed("indexed-job.yaml")
    pod = job["spec"]["template"]["spec"]
    wrapper, _ = parse_cluster(pod["containers"][0]["args"])
    assert wrapper.service == job["metadata"]["name"] == pod["subdomain"]
    assert wrapper.service == service["metadata"]["name"] == training_jobs.JOB
    assert service["spec"]["clusterIP"] == "None"
    assert wrapper.replicas == job["spec"]["completions"] == job["spec"]["parallelism"]
    assert job["spec"]["completionMode"] == "Indexed"
    assert wrapper.port == service["spec"]["ports"][0]["port"] == pods.TF_PORT
    assert pod["containers"][0]["ports"][0]["containerPort"] == wrapper.port
    assert service["spec"]["selector"] == {"job-name": job["metadata"]["name"]}
