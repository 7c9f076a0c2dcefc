"""Runs predictions for both front ends: straight on a thread pool, or through the batcher."""

from __future__ import annotations

import concurrent.futures

from .batching import Batcher
from .manager import ModelManager


class Predictor:
    def __init__(self, manager: ModelManager, batcher: Batcher | None = None, threads: int = 16):
        self.manager = manager
        self.batcher = batcher
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="predict")

    def submit(self, servable, signature_name: str, inputs: dict) -> concurrent.futures.Future:
        """A future of the output arrays; request errors are raised here, before queueing."""
        servable.check_inputs(signature_name, inputs)
        if self.batcher is not None:
            return self.batcher.submit(servable, signature_name, inputs)
        return self._pool.submit(servable.run, signature_name, inputs)

    def close(self) -> None:
        """Finishes queued work, then stops the threads."""
        if self.batcher is not None:
            self.batcher.close()
        self._pool.shutdown(wait=True)
