"""Admission and deadlines shared by the REST and gRPC front ends.

Both protect the server from clients rather than from bad input: a concurrency limit refuses
work the server cannot start soon (RESOURCE_EXHAUSTED, REST 429, the code gRPC's own
`maximum_concurrent_rpcs` answers with), and a deadline stops a client from waiting on a slow
model for ever (DEADLINE_EXCEEDED, REST 504, as TF Serving maps it).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading

import grpc

from .status import ServingError

DEADLINE_MESSAGE = "Deadline Exceeded"


class Admission:
    """Counts requests in flight on both front ends; refuses new ones above `limit` (0 = none).

    Refusing at once, instead of queueing, keeps latency bounded and memory flat under
    overload: the client learns to back off and nothing piles up in the server.
    """

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError(f"--max_concurrent_requests must be >= 0, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self):
        with self._lock:
            if self.limit and self.in_flight >= self.limit:
                raise ServingError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"Too many concurrent requests: {self.in_flight} in flight, the limit is "
                    f"{self.limit} (--max_concurrent_requests)",
                )
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1


def wait(future: concurrent.futures.Future, timeout: float | None):
    """The future's result within `timeout` seconds (None = no limit), else DEADLINE_EXCEEDED.

    A request still queued is cancelled so that the model never runs it; one already running
    finishes in the background (TensorFlow cannot interrupt a running function) and its result
    is dropped.
    """
    if timeout is not None and timeout >= threading.TIMEOUT_MAX:
        timeout = None  # gRPC reports "no deadline" as a deadline centuries away
    if timeout is not None and timeout <= 0:
        future.cancel()
        raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, DEADLINE_MESSAGE) from None
    except concurrent.futures.CancelledError:
        raise ServingError(grpc.StatusCode.CANCELLED, "Request cancelled") from None
