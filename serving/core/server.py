"""Embedded model server speaking TF Serving's gRPC and REST APIs.

    server = ModelServer(ServerOptions(model_name="resnet20", model_base_path="/abs/models/resnet20"))
    server.start(); ...; server.stop()        # or serve(options): until SIGTERM / Ctrl-C

Its command line is `keras-resnet-serve --backend=embedded` (keras_resnet.serving.tools.launch),
with one flag per ServerOptions field, named as tensorflow_model_server names them.

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
from . import logs, thread_pools
from .batching import Batcher
from .health import Health
from .limits import Admission
from .manager import ModelManager
from .metrics import Metrics
from .options import ServerOptions
from .predictor import Predictor

logger = logging.getLogger(__name__)


class ModelServer:
    """Owns the manager, the predictor and both front ends; start() then stop()."""

    def __init__(self, options: ServerOptions):
        self.options = options
        models = config_lib.requested_models(options)
        # Every config file is checked before anything starts a thread.
        params = None
        if options.enable_batching:
            params = config_lib.read_batching_parameters(options.batching_parameters_file)
        self.metrics_path = config_lib.read_monitoring_config(options.monitoring_config_file)
        batching = Batcher(params) if params else None
        self.manager = ModelManager(
            models,
            options.file_system_poll_wait_seconds,
            warmup=options.enable_model_warmup,
            load_retries=options.max_num_load_retries,
            retry_seconds=options.load_retry_interval_micros / 1e6,
        )
        self.metrics = Metrics(known_models=lambda: self.manager.models)
        self.admission = Admission(options.max_concurrent_requests)
        self.predictor = Predictor(self.manager, batching, threads=options.rest_api_num_threads)
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

        # Before TensorFlow runs anything (listing devices, loading): later it cannot change.
        thread_pools.apply(
            self.options.tensorflow_intra_op_parallelism,
            self.options.tensorflow_inter_op_parallelism,
        )
        logs.log_devices()
        self.manager.start()
        self.health = Health(self.manager)
        if self.options.model_config_file and self.options.model_config_file_poll_wait_seconds > 0:
            threading.Thread(target=self._watch_config, name="config-poller", daemon=True).start()
        limit = self.options.max_request_bytes
        self._grpc = grpc.server(
            concurrent.futures.ThreadPoolExecutor(self.options.grpc_max_threads),
            # Images are large: the 4 MiB gRPC default is too small for a batch of JPEGs.
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
            ],
            # Backstop for RPCs waiting for a thread, which Admission cannot see yet.
            maximum_concurrent_rpcs=self.options.max_concurrent_requests or None,
        )
        add_services(self._grpc, self.predictor, self.metrics, self.admission, limit)
        self.health.add_to(self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.options.host}:{self.options.port}")
        if not self.grpc_port:
            raise OSError(f"Cannot bind gRPC to {self.options.host}:{self.options.port}")
        self._grpc.start()
        logger.info("Running gRPC ModelServer at %s:%d ...", self.options.host, self.grpc_port)
        if self.options.rest_api_port:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="rest", daemon=True).start()
            asyncio.run_coroutine_threadsafe(self._start_rest(), self._loop).result()
            logger.info("Exporting HTTP/REST API at:%s:%d ...", self.options.host, self.rest_port)

    async def _start_rest(self) -> None:
        from .rest import RestApi

        api = RestApi(
            self.predictor,
            self.metrics,
            max_request_bytes=self.options.max_request_bytes,
            metrics_path=self.metrics_path,
            admission=self.admission,
            timeout_seconds=self.options.rest_api_timeout_in_ms / 1000,
        )
        self._runner = web.AppRunner(
            api.app, access_log=None, shutdown_timeout=self.options.shutdown_grace_seconds
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.rest_api_port)
        await site.start()
        # The runner's public list of bound (host, port, ...) addresses: port 0 picks one.
        self.rest_port = self._runner.addresses[0][1]

    def _watch_config(self) -> None:
        """Re-reads --model_config_file when it changes, as tensorflow_model_server does."""
        path = self.options.model_config_file
        with open(path, encoding="utf-8") as f:
            last = f.read()
        while not self._stopping.wait(self.options.model_config_file_poll_wait_seconds):
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if text != last:
                    self.manager.reconfigure(config_lib.requested_models(self.options))
                    logger.info("Reloaded model config %s", path)
                last = text
            except (OSError, ValueError) as e:
                logger.error("Keeping the current models: %s", e)

    def stop(self) -> None:
        """Health turns NOT_SERVING while in-flight requests finish (the ports stay open so that
        probes see it), then the ports close and everything is released."""
        self._stopping.set()
        deadline = time.monotonic() + self.options.shutdown_grace_seconds
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


def serve(options: ServerOptions) -> None:
    """Runs a server until SIGTERM or Ctrl-C, then stops it gracefully. A bad option or config
    file raises ValueError (OSError for a port in use) before anything starts."""
    logs.configure(options.verbosity)
    server = ModelServer(options)
    server.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    logger.info("Shutting down: finishing in-flight requests ...")
    server.stop()


if __name__ == "__main__":  # the command moved; say where rather than exit 0 doing nothing
    print(
        "keras_resnet.serving.core.server: error: the embedded server's command is now "
        "`keras-resnet-serve --backend=embedded` (same flags).",
        file=sys.stderr,
    )
    sys.exit(2)
