"""Load and soak test for a running server: mixed REST and gRPC predicts at a fixed concurrency,
every answer checked against a known-good one, and the server's memory sampled as it goes.

    python -m keras_resnet.serving.tools.soak --rest=127.0.0.1:8501 --grpc=127.0.0.1:8500 --model=NAME \\
        --image=FILE --pid=SERVER_PID [--requests=4000] [--concurrency=32] [--out=FILE.json]

Bounded in count and in time (--max_seconds); loopback addresses only, so it cannot be pointed
at someone else's server by mistake. Even-numbered requests go over REST, odd ones over gRPC.
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
import threading
import time

import numpy as np

from . import client

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class Soak:
    def __init__(self, rest: str, grpc_address: str, model: str, image: bytes, pid=None):
        for address in (rest, grpc_address):
            if address.rsplit(":", 1)[0] not in LOOPBACK:
                raise ValueError(f"soak runs against loopback addresses only, got {address!r}")
        self.rest, self.model, self.image, self.pid = rest, model, image, pid
        self.channel = client.grpc_channel(grpc_address)
        self.body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]})
        self.expected = client.predict_grpc(self.channel, model, [image])["probabilities"][0]
        self._lock = threading.Lock()
        self._next = 0
        self.done = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []
        self.rss: list[tuple[int, int]] = []  # (requests done, server RSS bytes)

    def _rss(self) -> int:
        import psutil

        return psutil.Process(self.pid).memory_info().rss if self.pid else 0

    def _rest_predict(self, connection) -> np.ndarray:
        connection.request("POST", f"/v1/models/{self.model}:predict", self.body)
        response = connection.getresponse()
        text = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {text[:200]!r}")
        return np.array(json.loads(text)["predictions"][0]["probabilities"])

    def _worker(self, total: int, stop_at: float, sample_every: int) -> None:
        host, port = self.rest.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        while time.monotonic() < stop_at:
            with self._lock:
                if self._next >= total:
                    break
                number, self._next = self._next, self._next + 1
            started = time.perf_counter()
            try:
                if number % 2 == 0:
                    probs = self._rest_predict(connection)
                else:
                    probs = client.predict_grpc(self.channel, self.model, [self.image])
                    probs = probs["probabilities"][0]
                if not np.allclose(probs, self.expected, atol=1e-5):
                    raise RuntimeError(f"wrong answer {probs} (expected {self.expected})")
                error = None
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                error = f"request {number}: {type(e).__name__}: {e}"
                connection.close()  # a broken keep-alive connection is not reused
            elapsed = time.perf_counter() - started
            with self._lock:
                self.done += 1
                self.latencies.append(elapsed)
                if error:
                    self.failures.append(error)
                if self.done % sample_every == 0 or self.done == total:
                    self.rss.append((self.done, self._rss()))
        connection.close()

    def run(self, requests: int, concurrency: int, max_seconds: float, sample_every=250) -> dict:
        self.rss.append((0, self._rss()))
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=self._worker, args=(requests, started + max_seconds, sample_every)
            )
            for _ in range(concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        self.channel.close()
        return self.report(requests, concurrency, seconds)

    def report(self, requests: int, concurrency: int, seconds: float) -> dict:
        latencies = np.array(self.latencies) * 1000
        rss = dict(self.rss)
        # "First thousand" is the RSS once 1,000 requests are done (or a quarter of a short run).
        first_at = min((n for n in rss if n >= min(1000, requests // 4)), default=0)
        first, last = rss.get(first_at, 0), rss.get(self.done, 0)
        return {
            "requests_planned": requests,
            "requests_done": self.done,
            "concurrency": concurrency,
            "failures": len(self.failures),
            "first_failures": self.failures[:5],
            "seconds": round(seconds, 2),
            "requests_per_second": round(self.done / seconds, 1) if seconds else 0.0,
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2) if self.done else None,
            "latency_ms_p99": round(float(np.percentile(latencies, 99)), 2) if self.done else None,
            "rss_mib_samples": {n: round(b / 2**20, 1) for n, b in sorted(rss.items())},
            "rss_first_at_requests": first_at,
            "rss_first_mib": round(first / 2**20, 1),
            "rss_last_mib": round(last / 2**20, 1),
            "rss_growth": round(last / first - 1, 4) if first else None,
        }


PROGRAM = "keras_resnet.serving.tools.soak"


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("rest", "127.0.0.1:8501", "the server's REST address", **where)
    flags.DEFINE_string("grpc", "127.0.0.1:8500", "the server's gRPC address", **where)
    flags.DEFINE_string("model", None, "the model's name on the server (required)", **where)
    flags.DEFINE_string("image", None, "a JPEG or PNG the model accepts (required)", **where)
    flags.DEFINE_integer("pid", None, "server process, to sample its RSS", **where)
    flags.DEFINE_integer("requests", 4000, "predicts to send", lower_bound=1, **where)
    flags.DEFINE_integer("concurrency", 32, "requests in flight", lower_bound=1, **where)
    flags.DEFINE_float("max_seconds", 600, "stop after this long", **where)
    flags.DEFINE_string("out", "", "also write the report here as JSON", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common

    values, rest = common.parse_flags(PROGRAM, __doc__, _define, argv)
    flag = {name: values[name].value for name in values}
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    for name in ("model", "image"):
        if not flag[name]:
            common.fail(f"--{name} is required; see --help.")
    try:
        with open(flag["image"], "rb") as f:
            image = f.read()
    except OSError as e:
        common.fail(f"cannot read --image={flag['image']}: {e.strerror}.")
    try:
        soak = Soak(flag["rest"], flag["grpc"], flag["model"], image, flag["pid"])
    except (ValueError, RuntimeError) as e:
        common.fail(str(e))
    result = soak.run(flag["requests"], flag["concurrency"], flag["max_seconds"])
    text = json.dumps(result, indent=2)
    print(text)
    if flag["out"]:
        with open(flag["out"], "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0 if result["failures"] == 0 and result["requests_done"] == flag["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
