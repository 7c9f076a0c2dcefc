"""`keras-resnet-serve` (`make serve`): the best server this machine has, with tensorflow_model_server's flags.

    keras-resnet-serve --model_name=NAME --model_base_path=/abs/path [server flags]
        [--backend=auto|tensorflow_model_server|docker|embedded] [--dry_run]

auto picks, in order: `tensorflow_model_server` on PATH; the `tensorflow/serving` image when a
Docker engine answers; else the embedded server (keras_resnet.serving.core.server, in this
process). It prints which. The server flags are tensorflow_model_server's names, one per field of
ServerOptions; the real binary gets them as they were typed, less the embedded server's own.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys

from keras_resnet.cli import common, extras

from ..core import config as config_lib
from ..core import thread_pools
from ..core.options import EMBEDDED_ONLY, ServerOptions

PROGRAM = "keras-resnet-serve"
BACKENDS = ("auto", "tensorflow_model_server", "docker", "embedded")
# The TF Serving release built on the TensorFlow we export with (TF Serving versions follow
# TensorFlow's): a SavedModel written by TensorFlow 2.21 needs a 2.21 server to be sure its ops
# load. tests/test_serving_launch.py checks this against the installed TensorFlow.
DEFAULT_IMAGE = "tensorflow/serving:2.21.0"
IMAGE = os.environ.get("TF_SERVING_IMAGE", DEFAULT_IMAGE)


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


def _without(argv: list[str], names, values) -> list[str]:
    """`argv` less the flags in `names`, in both `--flag=value` and `--flag value` forms."""
    out, args = [], iter(argv)
    for arg in args:
        name = arg.lstrip("-").split("=")[0]
        flag = values[name] if name in values else None
        # Booleans never take the next word; `--noflag` is the flag too.
        value = [] if "=" in arg or flag is None or flag.boolean else [next(args, "")]
        if (flag.name if flag is not None else name) not in names:
            out += [arg, *value]
    return out


def docker_command(options: ServerOptions, server_flags: list[str]) -> list[str]:
    """`docker run` of the official image, every file the options name mounted at the same
    path, `server_flags` (tensorflow_model_server's) passed on."""
    paths = {m.base_path for m in config_lib.requested_models(options)}
    for path in (
        options.model_config_file,
        options.batching_parameters_file,
        options.monitoring_config_file,
    ):
        if path:
            paths.add(os.path.dirname(os.path.abspath(path)))
    cmd = ["docker", "run", "--rm", "--init"]
    # Published on 127.0.0.1 only, like the embedded server's default.
    cmd += ["-p", f"127.0.0.1:{options.port}:{options.port}"]
    if options.rest_api_port:
        cmd += ["-p", f"127.0.0.1:{options.rest_api_port}:{options.rest_api_port}"]
    for path in sorted(paths):
        cmd += ["-v", f"{os.path.abspath(path)}:{os.path.abspath(path)}:ro"]
    flags = list(server_flags)
    if not any(a.startswith("--port") for a in flags):
        flags.append(f"--port={options.port}")
    if not any(a.startswith("--rest_api_port") for a in flags):
        flags.append(f"--rest_api_port={options.rest_api_port}")
    return cmd + [IMAGE] + flags


def embedded_command(options: ServerOptions) -> list[str]:
    """The command line that runs the embedded server with `options` in a process of its own."""
    default = ServerOptions()
    flags = [
        f"--{name}={str(value).lower() if isinstance(value, bool) else value}"
        for name, value in dataclasses.asdict(options).items()
        if value != getattr(default, name)
    ]
    return [sys.executable, "-m", __name__, "--backend=embedded", *flags]


def with_thread_pools(options: ServerOptions, argv: list[str], values):
    """`options` and `argv` with TensorFlow's pool sizes for this machine's CPUs
    (serving.core.thread_pools) where the command line did not set them."""
    sized = {
        name: value
        for name, value in thread_pools.pool_sizes(thread_pools.available_cpus()).items()
        if not values[name].present
    }
    return dataclasses.replace(options, **sized), [
        *argv,
        *(f"--{name}={value}" for name, value in sized.items()),
    ]


def _define(values) -> None:
    from absl import flags

    common.define_options(values, ServerOptions)
    flags.DEFINE_enum("backend", "auto", list(BACKENDS), "which server runs", flag_values=values)
    flags.DEFINE_boolean("dry_run", False, "print the command, start nothing", flag_values=values)


def parse_server_flags(args: list[str]) -> ServerOptions:
    """ServerOptions for a tensorflow_model_server command line (`--port=8500 ...`), parsed as
    `keras-resnet-serve` parses it; absl's flags.Error for a flag or value it would refuse."""
    from absl import flags

    values = flags.FlagValues()
    _define(values)
    rest = values([PROGRAM, *args])[1:]
    if rest:
        raise flags.Error(f"unexpected arguments {rest}")
    return common.options_from(values, ServerOptions)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    values, rest = common.parse_flags(PROGRAM, __doc__, _define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    options = common.options_from(values, ServerOptions)
    server_flags = _without(argv, ("backend", "dry_run"), values)
    options, server_flags = with_thread_pools(options, server_flags, values)
    backend = choose(values["backend"].value)
    try:
        if backend == "tensorflow_model_server":
            cmd = ["tensorflow_model_server", *_without(server_flags, EMBEDDED_ONLY, values)]
            # Unlike the embedded server, tensorflow_model_server binds every interface.
            print("serve: using tensorflow_model_server from PATH (listens on all interfaces)")
        elif backend == "docker":
            cmd = docker_command(options, _without(server_flags, EMBEDDED_ONLY, values))
            print(f"serve: using Docker image {IMAGE}")
        else:
            extras.require("serving")  # only the embedded server runs in this process
            cmd = [PROGRAM, "--backend=embedded", *server_flags]
            print("serve: no tensorflow_model_server or Docker engine; using the embedded server")
        config_lib.requested_models(options)  # the same one-line errors before handing over
        print("serve: " + shlex.join(cmd), flush=True)
        if values["dry_run"].value:
            return 0
        if backend == "embedded":
            from ..core import server

            server.serve(options)
            return 0
    except (OSError, ValueError, RuntimeError) as e:
        common.fail(str(e))
    os.execvp(cmd[0], cmd)  # replaces this process: signals reach the server directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
