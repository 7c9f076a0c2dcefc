"""Serving an export from the bucket: tensorflow_model_server on the pinned tensorflow/serving
image (Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget), and the same model
as a KServe InferenceService. Each function returns the documents of one file."""

from __future__ import annotations

from deploy import pods
from keras_resnet.serving.core import thread_pools

NAME = f"{pods.MODEL}-serving"
# SIGTERM: the pod leaves the Service's endpoints, then the server drains its requests.
GRACE_SECONDS = 30
HEALTH_PATH = f"/v1/models/{pods.MODEL}"  # TF Serving's model status: 200 once a version loads
# The CPUs a serving pod requests. TensorFlow's thread pools are sized from it
# (serving/core/thread_pools.py): left at 0, TensorFlow would size them for the node's cores.
CPUS = 2
RESOURCES = {"requests": {"cpu": str(CPUS), "memory": "2Gi"}, "limits": {"memory": "4Gi"}}


def server_args() -> list[str]:
    """tensorflow_model_server's flags: the export's versions and the files keras-resnet-export
    writes beside them (keras_resnet/export/assets.py), all read from the bucket."""
    return [
        f"--port={pods.GRPC_PORT}",
        f"--rest_api_port={pods.REST_PORT}",
        f"--model_name={pods.MODEL}",
        f"--model_base_path={pods.EXPORT_DIR}",
        "--enable_batching",
        f"--batching_parameters_file={pods.EXPORT_DIR}/batching_parameters.txt",
        f"--monitoring_config_file={pods.EXPORT_DIR}/monitoring.config",
        "--file_system_poll_wait_seconds=60",
        *thread_pools.flags(CPUS),
    ]


def _serving_container() -> dict:
    status = {"httpGet": {"path": HEALTH_PATH, "port": "rest"}}
    return {
        "name": "tensorflow-serving",
        "image": pods.SERVING_IMAGE,
        # The image's entrypoint script adds its own --model_base_path; name the server itself.
        "command": ["tensorflow_model_server"],
        "args": server_args(),
        "ports": [
            {"name": "grpc", "containerPort": pods.GRPC_PORT},
            {"name": "rest", "containerPort": pods.REST_PORT},
        ],
        "resources": RESOURCES,
        # Loading a version from the bucket takes a while: the startup probe allows 5 minutes,
        # then readiness follows the model's status and liveness only that the server answers.
        "startupProbe": {**status, "periodSeconds": 10, "failureThreshold": 30},
        "readinessProbe": {**status, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {
            "tcpSocket": {"port": "grpc"},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "securityContext": pods.container_security(),
        "volumeMounts": [pods.SCRATCH_MOUNT],
    }


def tf_serving() -> list[dict]:
    selector = pods.labels("serving")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": pods.metadata(NAME, "serving"),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                    "securityContext": pods.pod_security(),
                    "containers": [_serving_container()],
                    "volumes": [pods.SCRATCH_VOLUME],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(NAME, "serving"),
        "spec": {
            "selector": selector,
            "ports": [
                {"name": "grpc", "port": pods.GRPC_PORT, "targetPort": "grpc"},
                {"name": "rest", "port": pods.REST_PORT, "targetPort": "rest"},
            ],
        },
    }
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": pods.metadata(NAME, "serving"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": pods.metadata(NAME, "serving"),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
    }
    return [deployment, service, autoscaler, budget]


def kserve() -> list[dict]:
    """KServe's TensorFlow runtime runs the tensorflow/serving image at `runtimeVersion`: the
    same pinned tag. storageUri is the export's base directory (versions below it)."""
    tag = pods.SERVING_IMAGE.split(":")[1]
    model = {
        "modelFormat": {"name": "tensorflow"},
        "runtimeVersion": tag,
        "storageUri": pods.EXPORT_DIR,
        # Added to the runtime's own tensorflow_model_server flags (model name, ports, path).
        "args": thread_pools.flags(CPUS),
        "resources": RESOURCES,
        "securityContext": pods.container_security(),
        "volumeMounts": [pods.SCRATCH_MOUNT],
    }
    predictor = {
        "minReplicas": 1,
        "maxReplicas": 10,
        "model": model,
        "volumes": [pods.SCRATCH_VOLUME],
    }
    return [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": pods.metadata(pods.MODEL, "serving"),
            "spec": {"predictor": predictor},
        }
    ]
