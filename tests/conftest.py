"""Shared test set-up: quiet TensorFlow, deterministic seeds, no network; and the suite's timing
report (`make test-report`)."""

import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

# `make test-report` sets this to bench/test-suite-<host>.json: the wall time of the whole suite,
# its outcome counts and its slowest tests, which the README's "Tests" figure is read from.
REPORT = os.environ.get("KERAS_RESNET_TEST_REPORT")
_timings: dict[str, dict] = {}
_started = time.time()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


def pytest_runtest_logreport(report):
    entry = _timings.setdefault(report.nodeid, {"seconds": 0.0, "outcome": "passed"})
    entry["seconds"] += report.duration
    entry["slow"] = "slow" in report.keywords
    if report.outcome != "passed" and entry["outcome"] == "passed":
        entry["outcome"] = "error" if report.when != "call" and report.failed else report.outcome


def pytest_sessionfinish(session, exitstatus):
    if not REPORT or hasattr(session.config, "workerinput"):
        return
    counts: dict[str, int] = {}
    for entry in _timings.values():
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    slowest = sorted(_timings.items(), key=lambda item: -item[1]["seconds"])[:15]
    result = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "host": platform.node().split(".")[0],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "command": "pytest " + " ".join(sys.argv[1:]),
        "exit_status": int(exitstatus),
        "tests": len(_timings),
        "outcomes": counts,
        "wall_seconds": round(time.time() - _started),
        "wall_minutes": round((time.time() - _started) / 60, 1),
        "slow_tests": sum(1 for e in _timings.values() if e["slow"]),
        "slow_tests_seconds": round(sum(e["seconds"] for e in _timings.values() if e["slow"])),
        "slowest": [{"test": k, "seconds": round(v["seconds"], 1)} for k, v in slowest],
    }
    with open(REPORT, "w", encoding="utf-8") as f:
        f.write(json.dumps(result, indent=2) + "\n")
