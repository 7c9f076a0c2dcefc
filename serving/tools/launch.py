"""`make serve`: the best server this machine has, with tensorflow_model_server's flags.

    python -m keras_resnet.serving.tools.launch --model_name=NAME --model_base_path=/abs/path [server flags]
        [--backend=auto|tensorflow_model_server|docker|embedded] [--dry_run]

auto picks, in order: `tensorflow_model_server` on PATH; the `tensorflow/serving` image when a
Docker engine answers; else the embedded server (`python -m keras_resnet.serving.core.server`). It prints which.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

from ..core import config as config_lib
from ..core.server import SERVER_MODULE, build_parser

# The TF Serving release built on the TensorFlow we export with (TF Serving versions follow
# TensorFlow's): a SavedModel written by TensorFlow 2.21 needs a 2.21 server to be sure its ops
# load. tests/test_serving_launch.py checks this against the installed TensorFlow.
DEFAULT_IMAGE = "tensorflow/serving:2.21.0"
IMAGE = os.environ.get("TF_SERVING_IMAGE", DEFAULT_IMAGE)
# Flags only the embedded server knows; the real one would refuse them.
EMBEDDED_ONLY = (
    "host",
    "max_request_bytes",
    "max_concurrent_requests",
    "shutdown_grace_seconds",
    "verbosity",
)


def docker_answers(timeout: float = 5.0) -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return (
            subprocess.run(["docker", "info"], capture_output=True, timeout=timeout).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose(backend: str) -> str:
    if backend != "auto":
        return backend
    if shutil.which("tensorflow_model_server"):
        return "tensorflow_model_server"
    if docker_answers():
        return "docker"
    return "embedded"


def _tf_flags(argv: list[str]) -> list[str]:
    """The command line without the embedded server's own flags."""
    return [a for a in argv if a.lstrip("-").split("=")[0] not in EMBEDDED_ONLY]


def docker_command(args, argv: list[str]) -> list[str]:
    """`docker run` of the official image, every file the flags name mounted at the same path."""
    paths = {m.base_path for m in config_lib.models_from_flags(args)}
    for path in (
        args.model_config_file,
        args.batching_parameters_file,
        args.monitoring_config_file,
    ):
        if path:
            paths.add(os.path.dirname(os.path.abspath(path)))
    cmd = ["docker", "run", "--rm", "--init"]
    # Published on 127.0.0.1 only, like the embedded server's default.
    cmd += ["-p", f"127.0.0.1:{args.port}:{args.port}"]
    if args.rest_api_port:
        cmd += ["-p", f"127.0.0.1:{args.rest_api_port}:{args.rest_api_port}"]
    for path in sorted(paths):
        cmd += ["-v", f"{os.path.abspath(path)}:{os.path.abspath(path)}:ro"]
    flags = _tf_flags(argv)
    if not any(a.startswith("--port") for a in flags):
        flags.append(f"--port={args.port}")
    if not any(a.startswith("--rest_api_port") for a in flags):
        flags.append(f"--rest_api_port={args.rest_api_port}")
    return cmd + [IMAGE] + flags


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--backend", default="auto")
    own.add_argument("--dry_run", action="store_true")
    mine, rest = own.parse_known_args(argv)
    args = build_parser().parse_args(rest)
    backend = choose(mine.backend)
    try:
        if backend == "tensorflow_model_server":
            cmd = ["tensorflow_model_server", *_tf_flags(rest)]
            # Unlike the embedded server, tensorflow_model_server binds every interface.
            print("serve: using tensorflow_model_server from PATH (listens on all interfaces)")
        elif backend == "docker":
            cmd = docker_command(args, rest)
            print(f"serve: using Docker image {IMAGE}")
        elif backend == "embedded":
            cmd = [sys.executable, "-m", SERVER_MODULE, *rest]
            print("serve: no tensorflow_model_server or Docker engine; using the embedded server")
        else:
            raise ValueError(f"unknown --backend={backend}")
        if backend != "embedded":
            config_lib.models_from_flags(args)  # same one-line errors before handing over
    except ValueError as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 2
    print("serve: " + shlex.join(cmd), flush=True)
    if mine.dry_run:
        return 0
    if backend == "embedded":
        from ..core import server

        return server.main(rest)
    os.execvp(cmd[0], cmd)  # replaces this process: signals reach the server directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
