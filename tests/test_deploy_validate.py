"""Every Kubernetes object in deploy/ validated offline against the schema its API server uses:
the core kinds with kubernetes-validate's strict schemas for one fixed Kubernetes release, TFJob
and InferenceService with their CRDs' openAPIV3Schema (tests/data/schemas/README.md says where
each came from), closed the way `kubectl apply --validate=strict` closes them."""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest

from deploy import generate, pods

# The oldest release we claim: gRPC probes and strict server-side field validation are GA from
# 1.27; podFailurePolicy (the Indexed Job's exit-code rule) from 1.31; per-index backoff 1.33.
KUBERNETES_VERSION = "1.33.0"
CRDS = {
    ("kubeflow.org/v1", "TFJob"): "tfjob.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice.json",
}
SCHEMAS = os.path.join(os.path.dirname(__file__), "data", "schemas")
MANIFESTS = [name for name in generate.FILES if name.endswith(".yaml") and "vertex" not in name]


def _objects():
    return [
        pytest.param(doc, id=f"{name}:{doc['kind']}")
        for name in MANIFESTS
        for doc in generate.committed(name)
    ]


def _closed(schema):
    """The schema with unknown fields refused wherever the CRD does not keep them: the API
    server would prune them silently, and a misspelt field is a bug we want to see here."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(value) for value in schema]
    return schema


@functools.cache
def _crd_validator(file: str):
    with open(os.path.join(SCHEMAS, file)) as f:
        schema = _closed(json.load(f))
    return jsonschema.Draft4Validator(schema)


def validate(doc: dict) -> None:
    """Raises if the API server (at KUBERNETES_VERSION, strict field validation) would refuse
    `doc`; jsonschema's or kubernetes-validate's ValidationError."""
    crd = CRDS.get((doc["apiVersion"], doc["kind"]))
    if crd:
        _crd_validator(crd).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _from_discovery(node):
    """A Google API discovery schema as JSON Schema: `$ref` by name, int64 as string or int."""
    if isinstance(node, list):
        return [_from_discovery(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _from_discovery(value) for key, value in node.items() if key != "id"}
    if "$ref" in node:
        node["$ref"] = f"#/definitions/{node['$ref']}"
    if node.get("format") in ("int64", "uint64") and node.get("type") == "string":
        node["type"] = ["string", "integer"]
    return node


@functools.cache
def _vertex_validator():
    with open(os.path.join(SCHEMAS, "aiplatform_v1_custom_job_spec.json")) as f:
        discovery = json.load(f)
    definitions = _closed(_from_discovery(discovery["schemas"]))
    schema = {"$ref": f"#/definitions/{discovery['root']}", "definitions": definitions}
    return jsonschema.Draft4Validator(schema)


def test_the_vertex_job_is_a_custom_job_spec():
    """`gcloud ai custom-jobs create --config` reads a CustomJobSpec: checked against Vertex AI's
    discovery document. The first pool is the chief, one replica."""
    (spec,) = generate.committed("vertex-custom-job.yaml")
    _vertex_validator().validate(spec)
    assert spec["workerPoolSpecs"][0]["replicaCount"] == 1
    # Vertex sets AIP_CHECKPOINT_DIR etc. under it; keras-resnet-train reads them.
    assert spec["baseOutputDirectory"]["outputUriPrefix"] == pods.WORKDIR
    spec["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"] = "NVIDIA_V100"
    with pytest.raises(jsonschema.ValidationError, match="NVIDIA_V100"):
        _vertex_validator().validate(spec)


@pytest.mark.parametrize("doc", _objects())
def test_every_object_passes_its_schema(doc):
    validate(doc)


def test_the_kubernetes_validate_command_passes_every_core_object():
    """The command line, as one would run it by hand: it only warns about kinds it has no schema
    for (our CRDs, validated above), so each core object must be reported as passed."""
    core = [
        f"{doc['kind'].lower()}/{doc['metadata']['name']}"
        for name in MANIFESTS
        for doc in generate.committed(name)
        if (doc["apiVersion"], doc["kind"]) not in CRDS
    ]
    files = [os.path.join(generate.HERE, name) for name in MANIFESTS]
    command = [os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")]
    done = subprocess.run(
        [*command, f"--kubernetes-version={KUBERNETES_VERSION}", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"passed for resource (\S+) against version", done.stdout + done.stderr)
    assert sorted(passed) == sorted(core) and len(core) >= 6


def test_the_validation_refuses_a_misspelt_field():
    """Both kinds of validation can fail: a typo deep in a pod template is refused."""
    tfjob = copy.deepcopy(generate.committed("tfjob.yaml")[0])
    worker = tfjob["spec"]["tfReplicaSpecs"]["Worker"]
    worker["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(jsonschema.ValidationError, match="imagePullPolicyy"):
        validate(tfjob)
    worker["template"]["spec"]["containers"][0].pop("imagePullPolicyy")
    worker["replicas"] = "2"
    with pytest.raises(jsonschema.ValidationError, match="'2' is not of type 'integer'"):
        validate(tfjob)
    deployment = copy.deepcopy(generate.committed("tf-serving.yaml")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate(deployment)


def _pod_specs():
    """(file, pod spec) of every pod the manifests create."""
    for name in MANIFESTS:
        for doc in generate.committed(name):
            spec = doc["spec"]
            if doc["kind"] == "TFJob":
                for replica in spec["tfReplicaSpecs"].values():
                    yield name, replica["template"]["spec"]
            elif doc["kind"] in ("Job", "Deployment"):
                yield name, spec["template"]["spec"]
            elif doc["kind"] == "InferenceService":
                yield name, {"containers": [spec["predictor"]["model"]]}


def test_every_container_is_locked_down_and_sized():
    """Non-root, no privilege escalation, read-only root, resource requests: training too."""
    seen = set()
    for name, pod in _pod_specs():
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] and security["runAsUser"] != 0, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            seen.add(name)
    assert seen == set(MANIFESTS)


def test_image_tags_are_the_pinned_versions():
    serving_tag = pods.SERVING_IMAGE.split(":")[1]
    train = f"{pods.TRAIN_REPOSITORY}:{importlib.metadata.version('keras_resnet')}"
    images = [
        container["image"]
        for _, pod in _pod_specs()
        for container in pod["containers"]
        if "image" in container
    ]
    vertex = generate.committed("vertex-custom-job.yaml")[0]
    images += [pool["containerSpec"]["imageUri"] for pool in vertex["workerPoolSpecs"]]
    variants = {train, f"{train}-gpu", f"{train}-tpu"}  # deploy/image.py builds the variants
    assert images and set(images) <= variants | {pods.SERVING_IMAGE}, images
    assert pods.SERVING_IMAGE in images
    isvc = generate.committed("kserve.yaml")[0]["spec"]["predictor"]["model"]
    assert isvc["runtimeVersion"] == serving_tag  # KServe's runtime runs tensorflow/serving:<it>
    assert isvc["storageUri"] == pods.EXPORT_DIR


def test_serving_probes_ports_and_scaling():
    deployment, service, autoscaler, budget = generate.committed("tf-serving.yaml")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == {8500, 8501}
    assert {p["port"] for p in service["spec"]["ports"]} == {8500, 8501}
    ready = container["readinessProbe"]["httpGet"]
    assert ready == {"path": f"/v1/models/{pods.MODEL}", "port": "rest"}
    assert "livenessProbe" in container and pod["terminationGracePeriodSeconds"] > 0
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector == budget["spec"]["selector"]["matchLabels"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert f"--model_base_path={pods.EXPORT_DIR}" in container["args"]
    assert pods.EXPORT_DIR.startswith("gs://")
