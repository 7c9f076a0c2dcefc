"""The largest-batch search (`--max_batch`): bisection to adjacent bounds after any failed trial,
for every framework alike, and a batch too large for the machine counted as not fitting. Trials
are fakes: no process or framework starts here."""

import json
import logging
import pathlib
import subprocess
import sys
import types

import pytest

from keras_resnet.bench import memory

MIB = 2**20
# The last full run's machine (bench/results-vm.json): 24106 MiB, ~700 MiB held by the OS and the
# benchmark process itself, and the batch-32/64 training peaks of each framework.
TOTAL_MIB, AVAILABLE_MIB = 24106, 23406
ROWS = [
    {"impl": impl, "task": "train", "batch": batch, "peak_rss_mib": peak}
    for impl, batch, peak in [
        ("keras_resnet", 32, 5053.9),
        ("keras_resnet", 64, 9081.2),
        ("pytorch", 32, 3892.4),
        ("pytorch", 64, 6410.2),
    ]
]


def test_search_bisects_after_a_failed_first_trial():
    tried = []

    def fits(batch):
        tried.append(batch)
        return batch <= 100

    found = memory.search(fits, 64, 272)
    assert tried == [272, 168, 112, 88, 96, 104]
    assert found == {"largest_batch": 96, "smallest_failing": 104, "stopped": None}


def test_search_grows_until_a_trial_fails_then_bisects():
    tried = []

    def fits(batch):
        tried.append(batch)
        return batch <= 300

    found = memory.search(fits, 64, 168)
    assert tried == [168, 184, 216, 280, 408, 344, 312, 296, 304]  # steps 16, 32, 64, 128
    assert (found["largest_batch"], found["smallest_failing"]) == (296, 304)
    assert found["stopped"] is None


def test_search_says_when_it_stopped_short():
    found = memory.search(lambda batch: None, 64, 272)  # the machine, not the batch, ran short
    assert found == {
        "largest_batch": 64,
        "smallest_failing": None,
        "stopped": "inconclusive trial at batch 272",
    }
    found = memory.search(lambda batch: batch <= 100, 64, 272, max_trials=2)
    assert found == {"largest_batch": 64, "smallest_failing": 168, "stopped": "after 2 trials"}


def test_the_budget_is_what_the_machine_has_available(monkeypatch):
    memory_now = types.SimpleNamespace(total=TOTAL_MIB * MIB, available=AVAILABLE_MIB * MIB)
    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: memory_now)
    assert memory.budget_mib() == AVAILABLE_MIB - memory.RESERVE_MIB


def test_a_child_that_runs_the_machine_short_is_over_its_limit():
    # The watchdog reads available memory before the child's RSS: the child's own growth
    # crosses both lines at once, and over its limit wins.
    assert memory.stop_reason(22958, 400, 22382, 1.0, 1800) == "over 22382 MiB"
    assert memory.stop_reason(9000, 400, 22382, 1.0, 1800).startswith("machine below 512 MiB")
    assert memory.stop_reason(9000, 9000, 22382, 1.0, 1800) is None
    assert memory.stop_reason(9000, 9000, None, 1801, 1800) == "timed out after 1800 s"


@pytest.mark.parametrize("impl,per_image", [("keras_resnet", 140.0), ("pytorch", 90.0)])
def test_largest_batch_bisects_to_adjacent_bounds_for_every_framework(
    impl, per_image, monkeypatch, caplog, capsys
):
    """The last full run's machine: PyTorch's first trial (272) ran the machine short and the
    search ended with only batch 64 known to fit. Each fake child here grows to its peak
    (steeper than the batch-32/64 line, as in that run) under the watchdog's real checks."""
    memory_now = types.SimpleNamespace(total=TOTAL_MIB * MIB, available=AVAILABLE_MIB * MIB)
    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: memory_now)
    peak64 = next(r["peak_rss_mib"] for r in ROWS if (r["impl"], r["batch"]) == (impl, 64))

    def peak(batch):
        return peak64 + per_image * (batch - 64)

    def fake_run(impl_, task, batch, *, steps=2, limit_mib=None):
        assert (impl_, task) == (impl, "train")
        for rss in range(0, int(peak(batch)) + 1, 64):
            why = memory.stop_reason(rss, AVAILABLE_MIB - rss, limit_mib, 0.0, 1800)
            if why:
                return {"error": why}
        return {"peak_rss_mib": peak(batch)}

    monkeypatch.setattr(memory, "run_workload", fake_run)
    with caplog.at_level(logging.INFO, logger="keras_resnet.bench.memory"):
        found = memory.largest_batch(impl, ROWS)
    budget = AVAILABLE_MIB - memory.RESERVE_MIB
    largest = max(b for b in range(64, 400, memory.STEP) if peak(b) <= budget)
    assert (found["largest_batch"], found["smallest_failing"]) == (largest, largest + 8)
    assert found["stopped"] is None and found["budget_mib"] == budget
    errors = [t["error"] for t in found["trials"] if "error" in t]
    assert errors and all(e == f"over {budget} MiB" for e in errors), errors
    assert found["trials"][0]["batch"] == found["linear_estimate"]
    # Progress goes to the log, not to stdout (the command's result).
    first = found["trials"][0]
    line = f"largest batch search {impl}: batch {first['batch']}: {{'error': 'over {budget} MiB'}}"
    assert line in [r.getMessage() for r in caplog.records]
    assert capsys.readouterr().out == ""


def test_largest_batch_search_is_bounded(monkeypatch):
    runs = []

    def fake_run(impl, task, batch, *, steps=2, limit_mib=None):
        runs.append(batch)
        return {"peak_rss_mib": 100.0 * batch} if batch <= 150 else {"error": "over"}

    monkeypatch.setattr(memory, "run_workload", fake_run)
    monkeypatch.setattr(memory, "budget_mib", lambda: 14_000.0)
    rows = [{"impl": "keras_resnet", "task": "train", "batch": 32, "peak_rss_mib": 4000.0},
            {"impl": "keras_resnet", "task": "train", "batch": 64, "peak_rss_mib": 6000.0}]  # fmt: skip
    found = memory.largest_batch("keras_resnet", rows)
    assert runs == [192, 128, 160, 144, 152]  # the linear guess (62.5 MiB an image), then bisection
    assert (found["largest_batch"], found["smallest_failing"]) == (144, 152)
    runs.clear()
    found = memory.largest_batch("keras_resnet", rows, max_trials=4)
    assert runs == [192, 128, 160, 144] and found["stopped"] == "after 4 trials"
    # A machine short of memory for other reasons ends the search: it says nothing of the batch.
    monkeypatch.setattr(memory, "run_workload", lambda *a, **k: {"error": "machine below 512"})
    found = memory.largest_batch("keras_resnet", rows)
    assert (found["largest_batch"], found["smallest_failing"], len(found["trials"])) == (
        64,
        None,
        1,
    )
    assert found["stopped"] == "inconclusive trial at batch 192"


@pytest.mark.parametrize("impl", memory.IMPLS)
def test_the_committed_search_is_what_the_code_does(impl, monkeypatch):
    """Issue 25 read PyTorch's search as stopping after its first trial. Replayed from the
    committed full run (bench/results-vm.json: its peaks, its budget, each trial's outcome),
    the search runs every trial that run recorded, in order, past the first, and ends with
    adjacent bounds, for PyTorch as for keras_resnet."""
    with open(pathlib.Path(__file__).parents[1] / "bench" / "results-vm.json") as f:
        committed = json.load(f)["memory"]
    found_then = committed["largest_batch"][impl]
    outcome = {t["batch"]: {k: v for k, v in t.items() if k != "batch"}
               for t in found_then["trials"]}  # fmt: skip
    monkeypatch.setattr(memory, "budget_mib", lambda: float(found_then["budget_mib"]))
    monkeypatch.setattr(memory, "run_workload", lambda i, task, batch, **kw: outcome[batch])
    found = memory.largest_batch(impl, committed["workloads"])
    assert [t["batch"] for t in found["trials"]] == [t["batch"] for t in found_then["trials"]]
    assert len(found["trials"]) > 1 and found["stopped"] is None
    assert found["smallest_failing"] - found["largest_batch"] == memory.STEP
    assert (found["largest_batch"], found["linear_estimate"]) == (
        found_then["largest_batch"],
        found_then["linear_estimate"],
    )


def test_a_child_reports_its_own_peak_not_its_parents():
    """ru_maxrss survives fork and exec on Linux: a child of a large parent reported the
    parent's peak as its own. The child's peak must not include the 400 MiB held here."""
    held = bytearray(400 * 2**20)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: resident, not just mapped
    code = "from keras_resnet.bench import memory; print(memory._peak_mib())"
    child = float(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
    )
    assert 0 < child < 300, child
    assert memory._peak_mib() > 400  # and here, the parent's own, it does count them
    del held
