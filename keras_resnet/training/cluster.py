"""The cluster contract: TF_CONFIG, read strictly before TensorFlow starts, and built for pods.

Accepted shapes (extra keys are kept and ignored):

- Kubeflow TFJob, with or without a Chief replica:
    {"cluster": {"chief": [...], "worker": [...]}, "task": {"type": "worker", "index": 1}}
    {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": 0}}
- Vertex AI (and AI Platform): the same task types plus "environment": "cloud", "job": {...}
  and, in tuning jobs, "task": {..., "trial": "1", "cloud": "..."}. Vertex documents
  "chief"/"worker"/"ps"/"evaluator" here and the pool names (workerpool0..3) only in its other
  variable, CLUSTER_SPEC; the pool names are mapped all the same (and "master" to "chief").
- tf.distribute's multi-process runner: {"cluster": {"chief"/"worker": ...}, "task": {...},
  "rpc_layer": "grpc"}.
- `keras-resnet-cluster` (keras_resnet.cli.cluster) for Indexed Jobs: TFJob's no-chief shape.

Rules, each broken one reported in one line: JSON object; `cluster` maps known task types to
non-empty lists of "host:port" strings; at most one chief; `task.type` is a known type present in
the cluster; `task.index` an integer inside it. Parameter servers are refused (training uses
MultiWorkerMirroredStrategy, all-reduce, no ps). An evaluator task is refused: training
validates every epoch and tests at the end on the workers themselves, and a side-car evaluator
would only repeat that work, so one line tells the user to drop the evaluator replica.

Worker 0 writes the workdir: the chief, or worker 0 when there is no chief. Worker k writes
`workdir/worker<k>` (k counts the chief first), so that no two tasks write the same file.

This module imports no TensorFlow: the CLIs call `from_environ` before TensorFlow starts, and
`normalise_environ` rewrites TF_CONFIG in the shape TensorFlow reads (chief/worker names).
"""

from __future__ import annotations

import dataclasses
import json
import os

from keras_resnet.errors import UserError
from keras_resnet.storage import files

ENV = "TF_CONFIG"
TYPES = ("chief", "worker", "ps", "evaluator")
ALIASES = {  # other names for TYPES
    "master": "chief",  # AI Platform's older name for the chief
    "workerpool0": "chief",  # Vertex AI's worker pools, in pool order
    "workerpool1": "worker",
    "workerpool2": "ps",
    "workerpool3": "evaluator",
}
EVALUATOR_REFUSED = (
    "TF_CONFIG task type 'evaluator' is not supported: training already validates every epoch "
    "and tests at the end on the workers; remove the evaluator replica (Vertex: worker pool 3)."
)
PS_REFUSED = (
    "TF_CONFIG has 'ps' tasks: training uses MultiWorkerMirroredStrategy (all-reduce), which "
    "has no parameter servers; give only chief and worker replicas."
)
# Vertex AI's output locations for a CustomJob with baseOutputDirectory set.
VERTEX_ENV = {
    "workdir": "AIP_CHECKPOINT_DIR",
    "export_dir": "AIP_MODEL_DIR",
    "tensorboard_dir": "AIP_TENSORBOARD_LOG_DIR",
}


@dataclasses.dataclass(frozen=True)
class Cluster:
    tasks: dict  # type -> tuple of "host:port", types from TYPES
    task_type: str
    task_index: int
    extras: dict  # the other keys (environment, job, rpc_layer, ...)
    task_extras: dict  # the task's other keys (Vertex's trial and cloud)

    @property
    def num_workers(self) -> int:
        return len(self.tasks.get("chief", ())) + len(self.tasks.get("worker", ()))

    @property
    def worker_index(self) -> int:
        """0 for the task that writes the workdir; 1.. for the others."""
        if self.task_type == "chief":
            return 0
        return self.task_index + (1 if "chief" in self.tasks else 0)

    def to_tf_config(self) -> dict:
        return {
            **self.extras,
            "cluster": {t: list(a) for t, a in self.tasks.items()},
            "task": {**self.task_extras, "type": self.task_type, "index": self.task_index},
        }


def _fail(message: str):
    raise UserError(f"TF_CONFIG: {message}")


def _tasks(cluster) -> dict:
    if not isinstance(cluster, dict) or not cluster:
        _fail(f"'cluster' must be an object of task type -> addresses, got {cluster!r}.")
    tasks: dict = {}
    for name, addresses in cluster.items():
        kind = ALIASES.get(name, name)
        if kind not in TYPES:
            _fail(f"unknown task type {name!r} in 'cluster'; use {', '.join(TYPES)}.")
        ok = isinstance(addresses, list) and addresses
        if not ok or not all(isinstance(a, str) and ":" in a for a in addresses):
            _fail(f"cluster[{name!r}] must be a non-empty list of 'host:port', got {addresses!r}.")
        if kind in tasks:
            _fail(f"cluster names {kind!r} twice (as {name!r} too).")
        tasks[kind] = tuple(addresses)
    if len(tasks.get("chief", ())) > 1:
        _fail(f"a cluster has at most one chief, got {list(tasks['chief'])}.")
    if "ps" in tasks:
        raise UserError(PS_REFUSED)
    return tasks


def parse(text: str | None) -> Cluster | None:
    """The cluster TF_CONFIG `text` describes; None when it describes none (unset, "", {})."""
    if not text or not text.strip():
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        _fail(f"not valid JSON ({e}): {text[:80]!r}")
    if not isinstance(config, dict):
        _fail(f"must be a JSON object, got {text[:80]!r}.")
    if not config.get("cluster"):
        task = config.get("task")
        if (
            isinstance(task, dict)
            and ALIASES.get(task.get("type"), task.get("type")) == "evaluator"
        ):
            raise UserError(EVALUATOR_REFUSED)
        return None  # e.g. Vertex's single-replica jobs: {"environment": "cloud", ...}
    tasks = _tasks(config["cluster"])
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task:
        _fail(f"'task' must be an object with 'type' and 'index', got {task!r}.")
    kind = ALIASES.get(task["type"], task["type"])
    if kind == "evaluator":
        raise UserError(EVALUATOR_REFUSED)
    if kind not in tasks:
        _fail(f"task type {task['type']!r} is not in the cluster ({', '.join(tasks)}).")
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(tasks[kind]):
        _fail(
            f"task index {index!r} is not an integer in 0..{len(tasks[kind]) - 1} for the "
            f"{len(tasks[kind])} {kind} task(s)."
        )
    tasks.pop("evaluator", None)  # not part of the training cluster
    extras = {k: v for k, v in config.items() if k not in ("cluster", "task")}
    task_extras = {k: v for k, v in task.items() if k not in ("type", "index")}
    return Cluster(tasks, kind, index, extras, task_extras)


def from_environ(environ=None) -> Cluster | None:
    return parse((os.environ if environ is None else environ).get(ENV))


def normalise_environ(environ=None) -> Cluster | None:
    """Parses TF_CONFIG and writes it back in TensorFlow's names (chief, worker, no
    evaluator); call before TensorFlow starts."""
    environ = os.environ if environ is None else environ
    cluster = from_environ(environ)
    if cluster is not None:
        environ[ENV] = json.dumps(cluster.to_tf_config())
    return cluster


def worker_workdir(workdir: str, cluster: Cluster | None) -> str:
    """`workdir` for worker 0 (and runs without a cluster), `workdir/worker<k>` for the others."""
    k = cluster.worker_index if cluster is not None else 0
    return workdir if k == 0 else files.join(workdir, f"worker{k}")


def vertex_defaults(environ=None) -> dict:
    """{"workdir": ..., "export_dir": ..., "tensorboard_dir": ...} from the AIP_* variables
    Vertex AI sets; only those set."""
    environ = os.environ if environ is None else environ
    return {key: environ[var] for key, var in VERTEX_ENV.items() if environ.get(var)}


def indexed_job_tf_config(
    replicas: int, service: str, port: int, index: int, job_name: str, namespace: str = ""
) -> dict:
    """TF_CONFIG for pod `index` of a Kubernetes Indexed Job (or a JobSet's, as Kubeflow Trainer
    v2 runs), whose pods are `<job_name>-<i>` behind headless Service `service` (the pods'
    subdomain): they reach each other at `<job_name>-<i>.<service>[.<namespace>.svc]:<port>`."""
    if replicas < 1 or not 0 <= index < replicas:
        raise UserError(f"JOB_COMPLETION_INDEX={index} is not in 0..{replicas - 1} (--replicas).")
    if not 0 < port < 65536:
        raise UserError(f"--port={port} is not a TCP port.")
    suffix = f".{namespace}.svc" if namespace else ""
    hosts = [f"{job_name}-{i}.{service}{suffix}:{port}" for i in range(replicas)]
    return {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
