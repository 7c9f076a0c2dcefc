"""Training on a cluster: a Kubeflow TFJob, an Indexed Job with a headless Service (Trainer v2 or
plain Kubernetes), a Vertex AI CustomJob spec and a GKE TPU Job. Each function returns the
documents of one file. Exit codes (keras_resnet.errors, docs/clusters.md): 0 done, 2 a user or
config error (permanent), 143 SIGTERM after a backup and 138 transient (both retried)."""

from __future__ import annotations

from deploy import pods

WORKERS = 2
JOB = "resnet-workers"  # the Indexed Job and its headless Service share this name (see below)
# A worker that got SIGTERM saves a backup first; this is how long it may take.
TRAIN_GRACE_SECONDS = 120
# TFJob's `ExitCode` policy (training-operator, pkg/util/train IsRetryableExitCode) restarts a
# pod that exited 128 or more and fails the job on 1-127. The Indexed Job copies that rule.
PERMANENT_EXIT_CODES = list(range(1, 128))


class FlowList(list):
    """A list that the YAML writer prints on one line (the 127 permanent exit codes)."""


def exit_code_policy() -> dict:
    """A Job's podFailurePolicy with TFJob's ExitCode rule; other failures count against
    backoffLimit and are retried."""
    return {
        "rules": [
            # A drained node or a preempted pod is not the job's fault: retry, uncounted.
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": "tensorflow",
                    "operator": "In",
                    "values": FlowList(PERMANENT_EXIT_CODES),
                },
            },
        ]
    }


def tfjob() -> list[dict]:
    """kubeflow.org/v1 TFJob: the operator writes TF_CONFIG into each worker, names the
    container `tensorflow` and its port 2222, and restarts workers by exit code."""
    container = pods.train_container(
        "tensorflow",
        pods.train_image("gpu"),
        pods.train_args("multi_worker"),
        pods.gpu_resources(1),
        ports=[{"name": "tfjob-port", "containerPort": pods.TF_PORT}],
    )
    worker = {
        "replicas": WORKERS,
        "restartPolicy": "ExitCode",
        "template": {
            "spec": pods.train_pod(container, terminationGracePeriodSeconds=TRAIN_GRACE_SECONDS)
        },
    }
    spec = {
        "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 10},
        "tfReplicaSpecs": {"Worker": worker},
    }
    return [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "TFJob",
            "metadata": pods.metadata("resnet50-tfjob", "training"),
            "spec": spec,
        }
    ]


def indexed_job() -> list[dict]:
    """A headless Service and an Indexed Job. Each pod is `<job>-<index>.<service>`; with the two
    names equal, keras-resnet-cluster builds TF_CONFIG from JOB_COMPLETION_INDEX and
    `--service` alone, then execs keras-resnet-train."""
    selector = {"job-name": JOB}  # the label the Job controller puts on its pods
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(JOB, "training"),
        "spec": {
            "clusterIP": "None",
            "selector": selector,
            # Workers must resolve each other before any is ready: they find each other first.
            "publishNotReadyAddresses": True,
            "ports": [{"name": "tf", "port": pods.TF_PORT, "targetPort": pods.TF_PORT}],
        },
    }
    cluster = [
        f"--replicas={WORKERS}",
        f"--service={JOB}",
        f"--port={pods.TF_PORT}",
        "--",
        pods.TRAIN_CONSOLE_SCRIPT,
    ]
    container = pods.train_container(
        "tensorflow",
        pods.train_image("gpu"),
        cluster + pods.train_args("multi_worker"),
        pods.gpu_resources(1),
        command=[pods.CLUSTER_CONSOLE_SCRIPT],
        ports=[{"name": "tf", "containerPort": pods.TF_PORT}],
    )
    pod = pods.train_pod(
        container, subdomain=JOB, terminationGracePeriodSeconds=TRAIN_GRACE_SECONDS
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pods.metadata(JOB, "training"),
        "spec": {
            "completionMode": "Indexed",
            "completions": WORKERS,
            "parallelism": WORKERS,
            "backoffLimit": 10,
            "podFailurePolicy": exit_code_policy(),
            "template": {"metadata": {"labels": pods.labels("training")}, "spec": pod},
        },
    }
    return [service, job]


def vertex_custom_job() -> list[dict]:
    """A CustomJobSpec for `gcloud ai custom-jobs create --config`. Vertex writes TF_CONFIG and
    sets AIP_CHECKPOINT_DIR, AIP_MODEL_DIR and AIP_TENSORBOARD_LOG_DIR under
    baseOutputDirectory; keras-resnet-train takes its workdir from them, so no --workdir."""

    def pool(replicas: int) -> dict:
        return {
            "machineSpec": {
                "machineType": "n1-standard-8",
                "acceleratorType": "NVIDIA_TESLA_V100",
                "acceleratorCount": 1,
            },
            "replicaCount": replicas,
            "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
            "containerSpec": {
                "imageUri": pods.train_image("gpu"),
                "args": pods.train_args("multi_worker", workdir=None),
            },
        }

    # Vertex's first pool is the chief (one replica); the second holds the other workers.
    spec = {
        "workerPoolSpecs": [pool(1), pool(WORKERS - 1)],
        "baseOutputDirectory": {"outputUriPrefix": pods.WORKDIR},
    }
    return [spec]


def gke_tpu_job() -> list[dict]:
    """One TPU VM host (v5e, 2x4: 8 chips) on GKE: TensorFlow finds the chips locally, so
    `--tpu=local` and no cluster resolver address."""
    tpu = {"google.com/tpu": 8}
    container = pods.train_container(
        "tensorflow",
        pods.train_image("tpu"),
        pods.train_args("tpu", "--tpu=local"),
        {"requests": {"cpu": "8", "memory": "64Gi", **tpu}, "limits": tpu},
    )
    pod = pods.train_pod(
        container,
        terminationGracePeriodSeconds=TRAIN_GRACE_SECONDS,
        nodeSelector={
            "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
            "cloud.google.com/gke-tpu-topology": "2x4",
        },
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pods.metadata("resnet50-tpu", "training"),
        "spec": {
            "backoffLimit": 10,
            "podFailurePolicy": exit_code_policy(),
            "template": {"metadata": {"labels": pods.labels("training")}, "spec": pod},
        },
    }
    return [job]
