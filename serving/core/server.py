"""Embedded model server speaking TF Serving's gRPC and REST APIs, with its command-line flags.

    python -m keras_resnet.serving.core.server --model_name=resnet20 --model_base_path=$PWD/models/resnet20 \\
        [--port=8500] [--rest_api_port=8501] [--enable_batching --batching_parameters_file=F]
    python -m keras_resnet.serving.core.server --model_config_file=models/resnet20/models.config

Differences from tensorflow_model_server, on purpose: it binds 127.0.0.1 unless --host says
otherwise; Prometheus metrics are on by default; --max_request_bytes bounds request size (REST
413, gRPC RESOURCE_EXHAUSTED) and --max_concurrent_requests the requests in flight (REST 429,
gRPC RESOURCE_EXHAUSTED). REST predicts time out after --rest_api_timeout_in_ms (504); gRPC
honours the client's deadline (DEADLINE_EXCEEDED).
New version directories are polled every --file_system_poll_wait_seconds, and the config file
every --model_config_file_poll_wait_seconds when set. The standard grpc.health.v1.Health service
answers SERVING once every model has a version available. SIGTERM/SIGINT stop it gracefully:
health turns NOT_SERVING, in-flight requests finish (within --shutdown_grace_seconds), then the
ports close and it exits 0. It logs through Python logging (--verbosity) to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import signal
import sys
import threading
import time

import grpc
from aiohttp import web

from . import config as config_lib
from . import logs
from .batching import Batcher
from .health import Health
from .limits import Admission
from .manager import ModelManager
from .metrics import Metrics
from .predictor import Predictor

# Named by package, not __name__: run as `python -m keras_resnet.serving.core.server` this module is __main__.
SERVER_MODULE = f"{__package__}.server"  # what `python -m` runs, for launchers
logger = logging.getLogger(SERVER_MODULE)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m {__package__}.server", description=__doc__.split("\n")[0]
    )
    flag = p.add_argument
    flag("--port", type=int, default=8500, help="gRPC port")
    flag("--rest_api_port", type=int, default=8501, help="REST port; 0 disables REST")
    flag("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to expose)")
    flag("--model_name", default="default")
    flag("--model_base_path", default="")
    flag("--model_config_file", default="")
    flag("--model_config_file_poll_wait_seconds", type=float, default=0, help="0 = read once")
    flag("--file_system_poll_wait_seconds", type=float, default=1.0, help="0 = load once")
    flag("--enable_batching", type=_bool, nargs="?", const=True, default=False)
    flag("--batching_parameters_file", default="")
    flag("--monitoring_config_file", default="")
    flag("--enable_model_warmup", type=_bool, nargs="?", const=True, default=True)
    flag("--rest_api_num_threads", type=int, default=16)
    flag("--grpc_max_threads", type=int, default=32)
    flag(
        "--max_request_bytes",
        type=int,
        default=64 << 20,
        help="largest request body (REST: 413) or message (gRPC: RESOURCE_EXHAUSTED), and "
        "largest input tensor once decoded; default 64 MiB",
    )
    flag(
        "--max_concurrent_requests",
        type=int,
        default=64,
        help="requests in flight over REST and gRPC together; more are refused at once "
        "(REST 429, gRPC RESOURCE_EXHAUSTED) rather than queued; 0 = no limit",
    )
    flag(
        "--rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="REST request deadline, reading the body included (504 past it); 0 = none. gRPC "
        "uses the client's deadline instead (DEADLINE_EXCEEDED)",
    )
    flag("--max_num_load_retries", type=int, default=5, help="retries of a failed version load")
    flag(
        "--load_retry_interval_micros",
        type=int,
        default=60_000_000,
        help="wait between load retries; a failed version is reported END with its error",
    )
    flag(
        "--shutdown_grace_seconds",
        type=float,
        default=30.0,
        help="on SIGTERM, how long in-flight requests may take to finish",
    )
    flag("--verbosity", choices=logs.LEVELS, default="info", help="least severe level logged")
    return p


class ModelServer:
    """Owns the manager, the predictor and both front ends; start() then stop()."""

    def __init__(self, args):
        self.args = args
        models = config_lib.models_from_flags(args)
        # Every config file is checked before anything starts a thread.
        params = None
        if args.enable_batching:
            params = config_lib.read_batching_parameters(args.batching_parameters_file)
        self.metrics_path = config_lib.read_monitoring_config(args.monitoring_config_file)
        batching = Batcher(params) if params else None
        self.manager = ModelManager(
            models,
            args.file_system_poll_wait_seconds,
            warmup=args.enable_model_warmup,
            load_retries=args.max_num_load_retries,
            retry_seconds=args.load_retry_interval_micros / 1e6,
        )
        self.metrics = Metrics(known_models=lambda: self.manager.models)
        self.admission = Admission(args.max_concurrent_requests)
        self.predictor = Predictor(self.manager, batching, threads=args.rest_api_num_threads)
        self._loop = None
        self._runner = None
        self._stopping = threading.Event()
        self.health = None
        self.grpc_port = self.rest_port = None

    def start(self) -> None:
        # The front ends import TensorFlow (through tensorflow-serving-api): only now, so that a
        # bad flag or config file is answered by __init__ in one line, before TensorFlow's own
        # start-up lines and seconds of import.
        from .grpc_service import add_services

        logs.log_devices()
        self.manager.start()
        self.health = Health(self.manager)
        if self.args.model_config_file and self.args.model_config_file_poll_wait_seconds > 0:
            threading.Thread(target=self._watch_config, name="config-poller", daemon=True).start()
        limit = self.args.max_request_bytes
        self._grpc = grpc.server(
            concurrent.futures.ThreadPoolExecutor(self.args.grpc_max_threads),
            # Images are large: the 4 MiB gRPC default is too small for a batch of JPEGs.
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
            ],
            # Backstop for RPCs waiting for a thread, which Admission cannot see yet.
            maximum_concurrent_rpcs=self.args.max_concurrent_requests or None,
        )
        add_services(self._grpc, self.predictor, self.metrics, self.admission, limit)
        self.health.add_to(self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.args.host}:{self.args.port}")
        if not self.grpc_port:
            raise OSError(f"Cannot bind gRPC to {self.args.host}:{self.args.port}")
        self._grpc.start()
        logger.info("Running gRPC ModelServer at %s:%d ...", self.args.host, self.grpc_port)
        if self.args.rest_api_port:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="rest", daemon=True).start()
            asyncio.run_coroutine_threadsafe(self._start_rest(), self._loop).result()
            logger.info("Exporting HTTP/REST API at:%s:%d ...", self.args.host, self.rest_port)

    async def _start_rest(self) -> None:
        from .rest import RestApi

        api = RestApi(
            self.predictor,
            self.metrics,
            max_request_bytes=self.args.max_request_bytes,
            metrics_path=self.metrics_path,
            admission=self.admission,
            timeout_seconds=self.args.rest_api_timeout_in_ms / 1000,
        )
        self._runner = web.AppRunner(
            api.app, access_log=None, shutdown_timeout=self.args.shutdown_grace_seconds
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.args.host, self.args.rest_api_port)
        await site.start()
        # The runner's public list of bound (host, port, ...) addresses: port 0 picks one.
        self.rest_port = self._runner.addresses[0][1]

    def _watch_config(self) -> None:
        """Re-reads --model_config_file when it changes, as tensorflow_model_server does."""
        path = self.args.model_config_file
        with open(path, encoding="utf-8") as f:
            last = f.read()
        while not self._stopping.wait(self.args.model_config_file_poll_wait_seconds):
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if text != last:
                    self.manager.reconfigure(config_lib.models_from_flags(self.args))
                    logger.info("Reloaded model config %s", path)
                last = text
            except (OSError, ValueError) as e:
                logger.error("Keeping the current models: %s", e)

    def stop(self) -> None:
        """Health turns NOT_SERVING while in-flight requests finish (the ports stay open so that
        probes see it), then the ports close and everything is released."""
        self._stopping.set()
        deadline = time.monotonic() + self.args.shutdown_grace_seconds
        if self.health is not None:
            self.health.drain()
        while self.admission.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = self._grpc.stop(max(deadline - time.monotonic(), 0))
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
        stopped.wait()
        self.predictor.close()
        self.manager.stop()
        logger.info("Server stopped.")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.verbosity)
    try:
        server = ModelServer(args)
        server.start()
    except (OSError, ValueError, RuntimeError) as e:
        print(f"keras_resnet.serving.core.server: error: {e}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    logger.info("Shutting down: finishing in-flight requests ...")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
