"""Server-side batching with TF Serving's BatchingParameters semantics.

Requests for the same servable, signature and per-row input shape are queued together. A batch
runs when it holds `max_batch_size` rows or its oldest request has waited
`batch_timeout_micros`; `num_batch_threads` batches run at once. When `max_enqueued_batches`
batches are already waiting, a new request is refused with UNAVAILABLE (REST 503), as TF
Serving's shared batch scheduler does, instead of letting latency grow without bound.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import threading
import time

import grpc
import numpy as np

from .config import BatchingParameters
from .status import ServingError, invalid


@dataclasses.dataclass
class _Task:
    inputs: dict
    rows: int
    future: concurrent.futures.Future
    enqueued: float


class Batcher:
    def __init__(self, params: BatchingParameters):
        self.params = params
        self._cond = threading.Condition()
        self._queues: dict[tuple, collections.deque] = {}
        self._runners: dict[tuple, object] = {}
        self._closed = False
        self._threads = [
            threading.Thread(
                target=self._worker, name=f"{params.thread_pool_name}-{i}", daemon=True
            )
            for i in range(params.num_batch_threads)
        ]
        for t in self._threads:
            t.start()

    def submit(self, servable, signature_name: str, inputs: dict) -> concurrent.futures.Future:
        """Queues one request; the future resolves to its own rows of the batch's outputs."""
        rows = {len(v) if np.ndim(v) else 0 for v in inputs.values()}
        if len(rows) != 1 or 0 in rows:
            # Rank-0 or mismatched inputs cannot be split back per request: run them alone.
            return _completed(lambda: servable.run(signature_name, inputs))
        (n,) = rows
        if n > self.params.max_batch_size:
            raise invalid(
                f"Task size {n} is larger than maximum input batch size "
                f"{self.params.max_batch_size}"
            )
        key = (id(servable), signature_name) + tuple(
            sorted((k, np.asarray(v).dtype.str, np.shape(v)[1:]) for k, v in inputs.items())
        )
        task = _Task(inputs, n, concurrent.futures.Future(), time.monotonic())
        with self._cond:
            if self._closed:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, "Server is shutting down")
            if self._enqueued_batches() >= self.params.max_enqueued_batches:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full",
                )
            self._queues.setdefault(key, collections.deque()).append(task)
            self._runners[key] = (servable, signature_name)
            self._cond.notify()
        return task.future

    def close(self) -> None:
        """Stops taking work; queued batches still run before the workers exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=60)

    def _enqueued_batches(self) -> int:
        size = self.params.max_batch_size
        return sum(-(-sum(t.rows for t in q) // size) for q in self._queues.values() if q)

    def _ready(self, now: float):
        """(key, wait seconds): a full or timed-out queue first, else the soonest deadline."""
        timeout = self.params.batch_timeout_micros / 1e6
        soonest = None
        for key, queue in self._queues.items():
            if not queue:
                continue
            wait = queue[0].enqueued + timeout - now
            if (
                self._closed
                or wait <= 0
                or sum(t.rows for t in queue) >= self.params.max_batch_size
            ):
                return key, 0.0
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def _worker(self) -> None:
        while True:
            with self._cond:
                while True:
                    key, wait = self._ready(time.monotonic())
                    if key is not None:
                        break
                    if self._closed:
                        return
                    self._cond.wait(wait)
                queue, batch, rows = self._queues[key], [], 0
                while queue and rows + queue[0].rows <= self.params.max_batch_size:
                    task = queue.popleft()
                    # A request whose deadline passed was cancelled: never run it. Marking the
                    # others running means a late cancel() can no longer race set_result().
                    if task.future.set_running_or_notify_cancel():
                        batch.append(task)
                        rows += task.rows
                servable, signature_name = self._runners[key]
            if batch:
                self._run(servable, signature_name, batch)

    @staticmethod
    def _run(servable, signature_name: str, batch: list[_Task]) -> None:
        try:
            merged = {k: np.concatenate([t.inputs[k] for t in batch]) for k in batch[0].inputs}
            outputs = servable.run(signature_name, merged)
        except Exception as e:  # noqa: BLE001 - every waiting request gets the error
            for task in batch:
                task.future.set_exception(e)
            return
        start = 0
        for task in batch:
            end = start + task.rows
            task.future.set_result({k: v[start:end] for k, v in outputs.items()})
            start = end


def _completed(fn) -> concurrent.futures.Future:
    future = concurrent.futures.Future()
    try:
        future.set_result(fn())
    except Exception as e:  # noqa: BLE001
        future.set_exception(e)
    return future
