"""Peak memory per workload for `make bench`, each in a fresh process of its own.

Why a process per workload: the kernel's high-water mark (ru_maxrss) of the benchmark process
itself covers everything it ran before (every model, mode and peer), so it says nothing about
what one training run needs. A child that imports the framework, builds ResNet-50 (v1.5, the
layout both frameworks share) and runs `steps` steps of one workload reports its own peak.

    python -m keras_resnet.bench.memory keras_resnet|pytorch train|infer BATCH [STEPS]

prints {"peak_rss_mib": ...} as JSON. `largest_batch` searches, in a bounded number of such
runs, for the largest training batch whose peak stays within this machine's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil

IMPLS = ("keras_resnet", "pytorch")
WORKLOADS = [("train", 32), ("train", 64), ("infer", 32)]
RESERVE_MIB = 1024  # left to the OS and everything else: "fits" means peak <= total - this
MIN_AVAILABLE_MIB = 512  # below this the machine is short for everyone: stop the trial


def _keras_workload(task: str, batch: int, steps: int) -> None:
    import keras
    import tensorflow as tf

    import keras_resnet

    model = keras_resnet.use_fused_batchnorm(keras_resnet.create_model("resnet50", variant="v1.5"))
    x = tf.random.uniform((batch, 224, 224, 3))
    if task == "train":  # as keras_resnet trains: SGD with momentum, fused BN, float32
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        y = tf.zeros((batch,), tf.int32)
        for _ in range(steps):
            model.train_on_batch(x, y)
    else:
        forward = tf.function(lambda t: model(t, training=False))
        for _ in range(steps):
            forward(x).numpy()


def _torch_workload(task: str, batch: int, steps: int) -> None:
    import torch

    from keras_resnet.models.torch_reference import ARCHS, ResNet

    net = ResNet(*ARCHS["resnet50"]).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224).to(memory_format=torch.channels_last)
    if task == "train":
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        y = torch.zeros(batch, dtype=torch.long)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    else:
        net.eval()
        with torch.inference_mode():
            for _ in range(steps):
                net(x)


def child_main(argv: list[str]) -> int:
    import resource

    impl, task, batch = argv[0], argv[1], int(argv[2])
    steps = int(argv[3]) if len(argv) > 3 else 2
    if impl not in IMPLS or task not in ("train", "infer") or batch < 1:
        raise ValueError(f"usage: IMPL TASK BATCH [STEPS] with IMPL in {IMPLS}, got {argv!r}")
    (_keras_workload if impl == "keras_resnet" else _torch_workload)(task, batch, steps)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"peak_rss_mib": round(peak_kib / 1024, 1)}))
    return 0


def budget_mib() -> float:
    """This machine's memory less a reserve: what one workload may use if it has it alone."""
    return psutil.virtual_memory().total / 2**20 - RESERVE_MIB


def run_workload(
    impl: str, task: str, batch: int, *, steps: int = 2, limit_mib=None, timeout_s: float = 1800
) -> dict:
    """Runs one workload in a child; {"peak_rss_mib": x} if it completed, else {"error": why}.

    A watchdog stops the child above `limit_mib`, or when the machine's available memory runs
    low (it is shared: another process may be using what we counted on), before the kernel's
    OOM killer picks a victim, which could be someone else's process."""
    cmd = [sys.executable, "-m", "keras_resnet.bench.memory", impl, task, str(batch), str(steps)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    proc, why, start = psutil.Process(child.pid), None, time.monotonic()
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        if limit_mib and rss > limit_mib:
            why = f"over {limit_mib:.0f} MiB"
        elif psutil.virtual_memory().available / 2**20 < MIN_AVAILABLE_MIB:
            why = f"machine below {MIN_AVAILABLE_MIB} MiB available (at {rss:.0f} MiB)"
        elif time.monotonic() - start > timeout_s:
            why = f"timed out after {timeout_s:.0f} s"
        if why:
            child.kill()
            break
        time.sleep(0.2)
    out, err = child.communicate()
    if why:
        return {"error": why}
    if child.returncode != 0:
        lines = (err or "").strip().splitlines()
        return {"error": f"exit {child.returncode}: {lines[-1] if lines else ''}"}
    return json.loads(out.strip().splitlines()[-1])


def measure(log=print, impls=IMPLS) -> list[dict]:
    """Peak RSS of each workload (training at batch 32 and 64, inference at 32), each impl."""
    rows = []
    for impl in impls:
        for task, batch in WORKLOADS:
            result = run_workload(impl, task, batch)
            rows.append({"impl": impl, "task": task, "batch": batch, **result})
            log(f"peak RSS {impl} {task} batch {batch}: {result}")
    return rows


def largest_batch(impl: str, rows: list[dict], *, trials: int = 4, log=print) -> dict:
    """The largest training batch whose peak RSS stays within `budget_mib()`, found in at most
    `trials` runs: a guess from the measured batch-32 and batch-64 peaks (memory grows about
    linearly with the batch), then bisection, in multiples of 8."""
    peaks = {r["batch"]: r.get("peak_rss_mib") for r in rows
             if r["impl"] == impl and r["task"] == "train"}  # fmt: skip
    if not peaks.get(32) or not peaks.get(64):
        return {"error": "batch 32 and 64 peaks not measured"}
    limit = budget_mib()
    per_image = max((peaks[64] - peaks[32]) / 32, 1.0)
    guess = int(64 + (limit - peaks[64]) / per_image) // 8 * 8
    fits, fails, tried = 64, None, []
    candidate = max(guess, 72)
    for _ in range(trials):
        result = run_workload(impl, "train", candidate, limit_mib=limit)
        tried.append({"batch": candidate, **result})
        log(f"largest batch search {impl}: batch {candidate}: {result}")
        if "error" in result and "machine below" in result["error"]:
            break  # inconclusive: the machine, not this batch, ran short
        if "error" in result:
            fails = candidate
        else:
            fits = candidate
        if fails is None:
            candidate = fits + max(8, fits // 8 // 8 * 8)
        elif fails - fits <= 8:
            break
        else:
            candidate = (fits + fails) // 2 // 8 * 8
    return {
        "largest_batch": fits,
        "smallest_failing": fails,
        "linear_estimate": guess,
        "budget_mib": round(limit),
        "trials": tried,
    }


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
