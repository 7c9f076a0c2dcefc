"""`make deploy`: writes every file in deploy/ from the modules beside this one.

    python -m deploy.generate            # rewrite the files
    python -m deploy.generate --check    # exit 1, naming them, if a committed file differs

Edit the Python, never the generated files: tests/test_deploy_generate.py fails when the two
disagree. docs/clusters.md says how each file is used.
"""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from deploy import image, inference, pods, training_jobs

HERE = os.path.join(pods.ROOT, "deploy")

# file -> (the function that returns its content, the command that uses the file)
FILES = {
    "tfjob.yaml": (training_jobs.tfjob, "kubectl apply -f deploy/tfjob.yaml"),
    "indexed-job.yaml": (training_jobs.indexed_job, "kubectl apply -f deploy/indexed-job.yaml"),
    "vertex-custom-job.yaml": (
        training_jobs.vertex_custom_job,
        "gcloud ai custom-jobs create --region=REGION --display-name=resnet50 "
        "--config=deploy/vertex-custom-job.yaml",
    ),
    "gke-tpu-job.yaml": (training_jobs.gke_tpu_job, "kubectl apply -f deploy/gke-tpu-job.yaml"),
    "tf-serving.yaml": (inference.tf_serving, "kubectl apply -f deploy/tf-serving.yaml"),
    "kserve.yaml": (inference.kserve, "kubectl apply -f deploy/kserve.yaml"),
    "Dockerfile": (image.dockerfile, "docker build -f deploy/Dockerfile -t IMAGE ."),
    "Dockerfile.dockerignore": (image.dockerignore, "read by docker build with deploy/Dockerfile"),
}


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order the code wrote them; FlowList on one line; a dict used
    twice (a selector, a probe) written out twice, not as an anchor and alias."""

    def ignore_aliases(self, data):
        return True


_Dumper.add_representer(
    training_jobs.FlowList,
    lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True),
)


def header(name: str) -> str:
    make, use = FILES[name]
    module = make.__module__.replace(".", "/")
    return (
        f"# Generated from {module}.py by `make deploy`: edit that, not this file.\n# Use: {use}\n"
    )


def render(name: str) -> str:
    """The content `name` must have."""
    make, _ = FILES[name]
    if not name.endswith(".yaml"):
        return make(header(name))
    documents = make()
    body = yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100
    )
    return header(name) + ("---\n" if len(documents) > 1 else "") + body


def committed(name: str) -> list:
    """The documents of the committed YAML file `name`, as the cluster's tools would read them."""
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def stale() -> list[str]:
    """The files whose committed content differs from what render() gives."""
    out = []
    for name in FILES:
        path = os.path.join(HERE, name)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                if f.read() == render(name):
                    continue
        except FileNotFoundError:
            pass
        out.append(name)
    return out


def write() -> list[str]:
    """Rewrites the stale files; returns their names."""
    names = stale()
    for name in names:
        with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="") as f:
            f.write(render(name))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"deploy/{name} differs from its generator; run `make deploy`", file=sys.stderr)
        return 1 if names else 0
    for name in write():
        print(f"wrote deploy/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
