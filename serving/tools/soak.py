"""Load and soak test for a running server: mixed REST and gRPC predicts at a fixed concurrency,
every answer checked against a known-good one, and the server's memory sampled as it goes.

    python -m keras_resnet.serving.tools.soak --rest=127.0.0.1:8501 --grpc=127.0.0.1:8500 --model=NAME \\
        --image=FILE --pid=SERVER_PID [--requests=4000] [--concurrency=32] [--out=FILE.json]
    python -m keras_resnet.serving.tools.soak --own_server --out=bench/soak-vm.json  # make bench-soak

Bounded in count and in time (--max_seconds); loopback addresses only, so it cannot be pointed
at someone else's server by mistake. Even-numbered requests go over REST, odd ones over gRPC.
--own_server exports the small test model, serves it with batching from the embedded server in a
process of its own (so its RSS is the server's alone) and soaks that. --out writes the result as
an artifact: FILE.json and FILE.md beside it, with the server's RSS every --sample_every requests.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import sys
import tempfile
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
        self.rss: list[tuple[int, float, int]] = []  # (requests done, seconds, server RSS bytes)
        self._started = time.monotonic()

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
                    self.rss.append((self.done, time.monotonic() - self._started, self._rss()))
        connection.close()

    def run(self, requests: int, concurrency: int, max_seconds: float, sample_every=250) -> dict:
        started = self._started = time.monotonic()
        self.rss.append((0, 0.0, self._rss()))
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
        rss = {n: b for n, _, b in self.rss}
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
            "rss_over_time": [
                {"requests": n, "seconds": round(t, 2), "rss_mib": round(b / 2**20, 1)}
                for n, t, b in self.rss
            ],
            "rss_first_at_requests": first_at,
            "rss_first_mib": round(first / 2**20, 1),
            "rss_last_mib": round(last / 2**20, 1),
            "rss_growth": round(last / first - 1, 4) if first else None,
        }


def own_server(workdir: str, requests: int, concurrency: int, max_seconds: float, **run) -> dict:
    """Soaks the small test model served with batching by the embedded server in a process of
    its own, started and stopped here; `result["server_alive"]` says whether it lasted."""
    from .testing import ServerProcess, export_tiny, png, random_pixels, server_options

    base = os.path.join(workdir, "tiny")
    export_tiny(base)
    batching = os.path.join(base, "batching_parameters.txt")
    options = server_options(base, enable_batching=True, batching_parameters_file=batching)
    log_path = os.path.join(workdir, "server.log")
    with ServerProcess(options, log_path=log_path, startup_seconds=180) as server:
        image = png(random_pixels(1, seed=11)[0])
        rest, grpc_address = f"127.0.0.1:{options.rest_api_port}", f"127.0.0.1:{options.port}"
        soak = Soak(rest, grpc_address, "tiny", image, server.proc.pid)
        result = soak.run(requests, concurrency, max_seconds, **run)
        result["server_alive"] = server.proc.poll() is None
    return result


def write(result: dict, path: str, command: str) -> tuple[str, str]:
    """The artifact: `path` (JSON: the result, the command and the machine) and the Markdown
    beside it (.md), whose every number is the JSON's."""
    from keras_resnet import machine

    data = {"command": command, "machine": machine.summary(), **result}
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2) + "\n")
    m, growth = data["machine"], data["rss_growth"]
    lines = [
        f"# Serving soak: {data['requests_done']} predicts at concurrency {data['concurrency']}",
        "",
        f"Command: `{command}`. Machine: {m['cpu']}, {m['cores']} cores; TensorFlow "
        f"{m['tensorflow']}; {m['date']}. Half REST, half gRPC; every answer checked.",
        "",
        "| requests | failures | seconds | req/s | p50 ms | p99 ms | RSS MiB at "
        f"{data['rss_first_at_requests']} | RSS MiB at end | growth |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {data['requests_done']} | {data['failures']} | {data['seconds']} | "
        f"{data['requests_per_second']} | {data['latency_ms_p50']} | {data['latency_ms_p99']} | "
        f"{data['rss_first_mib']} | {data['rss_last_mib']} | "
        + ("—" if growth is None else f"{growth * 100:+.1f}%")
        + " |",
        "",
        "Server RSS over time:",
        "",
        "| requests done | seconds | RSS MiB |",
        "|---:|---:|---:|",
        *(f"| {s['requests']} | {s['seconds']} | {s['rss_mib']} |" for s in data["rss_over_time"]),
    ]
    md = os.path.splitext(path)[0] + ".md"
    with open(md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path, md


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
    flags.DEFINE_integer("sample_every", 250, "sample RSS every N requests", lower_bound=1, **where)
    flags.DEFINE_bool("own_server", False, "start, soak and stop a server of its own", **where)
    flags.DEFINE_string("out", "", "also write the result as FILE.json and FILE.md", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common

    values, rest = common.parse_flags(PROGRAM, __doc__, _define, argv)
    flag = {name: values[name].value for name in values}
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    if flag["out"] and not os.path.isdir(os.path.dirname(os.path.abspath(flag["out"]))):
        common.fail(f"--out={flag['out']}: its folder does not exist; create it or pick another.")
    counts = (flag["requests"], flag["concurrency"], flag["max_seconds"])
    if flag["own_server"]:
        try:
            with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
                result = own_server(workdir, *counts, sample_every=flag["sample_every"])
        except RuntimeError as e:
            common.fail(str(e))
    else:
        result = _soak_running_server(flag, common, counts)
    print(json.dumps(result, indent=2))
    if flag["out"]:
        command = " ".join(["python -m", PROGRAM, *(sys.argv[1:] if argv is None else argv)])
        print("wrote", *write(result, flag["out"], command))
    complete = result["requests_done"] == flag["requests"] and result.get("server_alive", True)
    return 0 if result["failures"] == 0 and complete else 1


def _soak_running_server(flag: dict, common, counts) -> dict:
    for name in ("model", "image"):
        if not flag[name]:
            common.fail(f"--{name} is required (or --own_server); see --help.")
    try:
        with open(flag["image"], "rb") as f:
            image = f.read()
    except OSError as e:
        common.fail(f"cannot read --image={flag['image']}: {e.strerror}.")
    try:
        soak = Soak(flag["rest"], flag["grpc"], flag["model"], image, flag["pid"])
    except (ValueError, RuntimeError) as e:
        common.fail(str(e))
    return soak.run(*counts, sample_every=flag["sample_every"])


if __name__ == "__main__":
    sys.exit(main())
