"""`keras-resnet-cluster`: TF_CONFIG for a pod of a Kubernetes Indexed Job, then the command.

    keras-resnet-cluster --replicas=2 --service=resnet-workers [--port=2222] \\
        [--job_name=NAME] [--namespace=NS] -- keras-resnet-train --model=resnet50 --workdir=gs://b/run

For a plain Kubernetes Indexed Job (completionMode: Indexed, parallelism = completions =
--replicas, pod `subdomain:` = a headless Service named --service) and for Kubeflow Trainer v2,
whose TrainJobs run as JobSets of Indexed Jobs and, having no TensorFlow runtime, set no
TF_CONFIG. Kubernetes gives each pod JOB_COMPLETION_INDEX and the hostname `<job name>-<index>`,
which the headless Service makes resolvable as `<job name>-<index>.<service>`. So pod i gets

    {"cluster": {"worker": ["<job>-0.<service>:<port>", ...]}, "task": {"type": "worker", "index": i}}

(TFJob's shape without a chief: worker 0 writes the workdir) and the command after `--` is
exec'd with it: it replaces this process, so signals and the exit status are the command's own.

--job_name   default: this pod's hostname without its `-<index>` suffix (a JobSet's job name
             included); give it when the pod sets another hostname.
--namespace  appended as `.<namespace>.svc` when pods must reach each other across namespaces.

Errors (no JOB_COMPLETION_INDEX, an index out of range, no command) are one line and exit 2.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from keras_resnet.cli import common

INDEX_ENV = "JOB_COMPLETION_INDEX"


def _define_flags():
    from absl import flags

    return {
        "replicas": flags.DEFINE_integer("replicas", None, "Pods in the Indexed Job."),
        "service": flags.DEFINE_string("service", None, "Headless Service = the pods' subdomain."),
        "port": flags.DEFINE_integer("port", 2222, "Port every worker listens on."),
        "job_name": flags.DEFINE_string(
            "job_name", None, "The Job's name (default: hostname minus '-<index>')."
        ),
        "namespace": flags.DEFINE_string("namespace", "", "Namespace, for .<ns>.svc names."),
    }


def _job_name(hostname: str, index: int) -> str:
    suffix = f"-{index}"
    if not hostname.endswith(suffix) or len(hostname) == len(suffix):
        raise common.UserError(
            f"hostname {hostname!r} is not '<job name>-{index}' as an Indexed Job's pod is; "
            "pass --job_name."
        )
    return hostname[: -len(suffix)]


def tf_config(values: dict, environ, hostname: str) -> dict:
    """TF_CONFIG for this pod from the flags' values, its environment and its hostname."""
    from keras_resnet.training import cluster

    for name in ("replicas", "service"):
        if values[name] in (None, ""):
            raise common.UserError(f"--{name} is required; see --help.")
    raw = environ.get(INDEX_ENV)
    if raw is None or not raw.strip().isdigit():
        raise common.UserError(
            f"{INDEX_ENV}={raw!r}: run this in a pod of an Indexed Job (completionMode: "
            "Indexed), which sets it to the pod's index."
        )
    index = int(raw)
    job_name = values["job_name"] or _job_name(hostname.split(".")[0], index)
    config = cluster.indexed_job_tf_config(
        values["replicas"], values["service"], values["port"], index, job_name, values["namespace"]
    )
    cluster.parse(json.dumps(config))  # the contract training will check, checked here first
    return config


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    values = _define_flags()

    def run(rest):
        command = rest[1:]
        if not command:
            common.fail("give the command to run after '--', e.g. -- keras-resnet-train ...")
        flag_values = {name: flag.value for name, flag in values.items()}
        config = common.run_cli(tf_config, flag_values, os.environ, socket.gethostname())
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        print(f"keras-resnet-cluster: TF_CONFIG={env['TF_CONFIG']}", file=sys.stderr, flush=True)
        try:
            os.execvpe(command[0], command, env)
        except OSError as e:
            common.fail(f"cannot run {command[0]!r}: {e.strerror}.")

    common.run_absl(run, argv, __doc__, "keras-resnet-cluster")


if __name__ == "__main__":
    main()
