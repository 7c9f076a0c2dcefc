"""Peak memory per workload for `make bench`, each in a fresh process of its own.

Why a process per workload: the kernel's high-water mark (VmHWM) of the benchmark process
itself covers everything it ran before (every model, mode and peer), so it says nothing about
what one training run needs. A child that imports the framework, builds ResNet-50 (v1.5, the
layout both frameworks share) and runs `steps` steps of one workload reports its own peak.

    python -m keras_resnet.bench.memory keras_resnet|pytorch train|infer BATCH [STEPS] [KEY=VAL]

prints {"peak_rss_mib": ..., "built_peak_mib": ..., "first_step_peak_mib": ..., "step_s": ...}
as JSON (KEY=VAL: `OPTIONS`, e.g. remat=blocks). `memory_report` takes training memory apart
with such runs, `saved_tensors` lists what backprop keeps. `largest_batch` searches, with such runs, for the largest
training batch whose peak stays within the memory this machine has for it (`search`: bisection
to within STEP images).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable

import psutil

logger = logging.getLogger(__name__)

IMPLS = ("keras_resnet", "pytorch")
WORKLOADS = [("train", 32), ("train", 64), ("infer", 32)]
RESERVE_MIB = 1024  # left to the OS and everything else: "fits" means peak <= available - this
MIN_AVAILABLE_MIB = 512  # below this the machine is short for everyone: stop the trial
# Workload options, with their defaults (keras_resnet's training path): activation recomputation
# (config.remat), BN kernel (config.fused_batchnorm), XLA (config.jit_compile).
OPTIONS = {"remat": "none", "bn": "fused", "jit": "off"}
STEP = 8  # the search's granularity, in images
MAX_TRIALS = 10  # bisects a first miss up to 2**9 steps wide; a run takes ~1-2 min on 2 cores


def _peak_mib() -> float:
    """This process's own high-water mark. On Linux it is VmHWM: ru_maxrss is carried over
    from the parent through fork and exec, so a child of a 1 GiB benchmark process reported at
    least 1 GiB whatever it ran (bench/results-vm.json of 2026-12-07: every `built_peak_mib`
    1122.3, PyTorch's inference peak included). VmHWM belongs to the address space, which exec
    replaces."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):  # not Linux: ru_maxrss (macOS: bytes)
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = kib / 1024 if sys.platform == "darwin" else kib
    return round(kib / 1024, 1)


def _steps(step, steps: int) -> dict:
    """Runs `step` `steps` times: the peak RSS after the first (it traces and builds kernels)
    and the median time of the later ones (None with one step)."""
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        if i == 0:
            first = _peak_mib()
    later = sorted(times[1:])
    return {"first_step_peak_mib": first, "step_s": later[len(later) // 2] if later else None}


def _keras_workload(task: str, batch: int, steps: int, options: dict) -> dict:
    import keras
    import tensorflow as tf

    import keras_resnet
    from keras_resnet.models.remat import use_remat

    model = keras_resnet.create_model("resnet50", variant="v1.5")
    if options["bn"] == "fused":
        keras_resnet.use_fused_batchnorm(model)
    x = tf.random.uniform((batch, 224, 224, 3))
    built = _peak_mib()
    if task == "train":  # as keras_resnet trains: SGD with momentum, fused BN, float32
        use_remat(model, options["remat"])
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=options["jit"] == "on",
        )
        y = tf.zeros((batch,), tf.int32)
        return {"built_peak_mib": built, **_steps(lambda: model.train_on_batch(x, y), steps)}
    forward = tf.function(lambda t: model(t, training=False))
    return {"built_peak_mib": built, **_steps(lambda: forward(x).numpy(), steps)}


def _torch_workload(task: str, batch: int, steps: int, options: dict) -> dict:
    import torch

    from keras_resnet.models.torch_reference import ARCHS, ResNet

    if options != OPTIONS:
        raise ValueError(f"options {options} are for keras_resnet only")
    net = ResNet(*ARCHS["resnet50"]).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224).to(memory_format=torch.channels_last)
    built = _peak_mib()
    if task == "train":
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        y = torch.zeros(batch, dtype=torch.long)

        def step():
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        return {"built_peak_mib": built, **_steps(step, steps)}
    net.eval()

    def infer():
        with torch.inference_mode():
            net(x)

    return {"built_peak_mib": built, **_steps(infer, steps)}


def child_main(argv: list[str]) -> int:
    """IMPL TASK BATCH [STEPS] [KEY=VALUE ...] (keys: OPTIONS): runs one workload and prints
    its peaks and step time as JSON."""
    usage = f"usage: IMPL TASK BATCH [STEPS] [KEY=VALUE ...] with IMPL in {IMPLS}, KEY in "
    usage += f"{tuple(OPTIONS)}; got {argv!r}"
    positional = [a for a in argv if "=" not in a]
    options = {**OPTIONS, **dict(a.split("=", 1) for a in argv if "=" in a)}
    if (len(positional) not in (3, 4) or positional[0] not in IMPLS
            or positional[1] not in ("train", "infer") or set(options) != set(OPTIONS)
            or not all(p.isdigit() and int(p) > 0 for p in positional[2:])):  # fmt: skip
        raise ValueError(usage)
    impl, task, batch, *steps = positional
    run = _keras_workload if impl == "keras_resnet" else _torch_workload
    phases = run(task, int(batch), int(steps[0]) if steps else 2, options)
    print(json.dumps({"peak_rss_mib": _peak_mib(), **phases}))
    return 0


def budget_mib() -> float:
    """The memory available now less a reserve: what one workload may use beside this process,
    the OS and whoever else is on the machine.

    Not the machine's total less the reserve: that counted what the others hold (this process
    alone holds TensorFlow) as the child's to use, so a batch too large for the machine took it
    below MIN_AVAILABLE_MIB before reaching that limit, and the watchdog's stop read as the
    machine's shortage (inconclusive: the search ended there), not as the batch not fitting."""
    return psutil.virtual_memory().available / 2**20 - RESERVE_MIB


def stop_reason(rss, available, limit_mib, elapsed_s, timeout_s) -> str | None:
    """Why the watchdog stops a child (its RSS and the machine's available memory in MiB),
    or None. Over its limit comes first: a child whose own growth ran the machine short is
    over the limit (its batch does not fit); "machine below" then means someone else grew."""
    if limit_mib and rss > limit_mib:
        return f"over {limit_mib:.0f} MiB"
    if available < MIN_AVAILABLE_MIB:
        return f"machine below {MIN_AVAILABLE_MIB} MiB available (at {rss:.0f} MiB)"
    if elapsed_s > timeout_s:
        return f"timed out after {timeout_s:.0f} s"
    return None


def run_workload(
    impl: str,
    task: str,
    batch: int,
    *,
    steps: int = 2,
    options: dict | None = None,
    limit_mib=None,
    timeout_s: float = 1800,
    env: dict | None = None,
) -> dict:
    """Runs one workload in a child (`options`: OPTIONS keys to change, `env`: extra
    environment variables); its peaks
    ({"peak_rss_mib": x, ...}, `child_main`) if it completed, else {"error": why}.

    A watchdog stops the child above `limit_mib`, or when the machine's available memory runs
    low (it is shared: another process may be using what we counted on), before the kernel's
    OOM killer picks a victim, which could be someone else's process."""
    args = [impl, task, str(batch), str(steps)] + [f"{k}={v}" for k, v in (options or {}).items()]
    cmd = [sys.executable, "-m", "keras_resnet.bench.memory", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    proc, why, start = psutil.Process(child.pid), None, time.monotonic()
    while child.poll() is None:
        # Available memory before the child's RSS, which can then only be larger: a child that
        # ran the machine short by itself reads as over its limit, never as the machine short.
        available = psutil.virtual_memory().available / 2**20
        try:
            rss = proc.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        why = stop_reason(rss, available, limit_mib, time.monotonic() - start, timeout_s)
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


def measure(impls=IMPLS) -> list[dict]:
    """Peak RSS of each workload (training at batch 32 and 64, inference at 32), each impl."""
    rows = []
    for impl in impls:
        for task, batch in WORKLOADS:
            result = run_workload(impl, task, batch)
            rows.append({"impl": impl, "task": task, "batch": batch, **result})
            logger.info(f"peak RSS {impl} {task} batch {batch}: {result}")
    return rows


def search(
    fits: Callable[[int], bool | None],
    good: int,
    first: int,
    *,
    step: int = STEP,
    max_trials: int = MAX_TRIALS,
) -> dict:
    """The largest batch for which `fits(batch)` holds, from `good` (known to fit) and a first
    candidate, in multiples of `step`: larger and larger steps up while trials fit, then
    bisection between the largest that fit and the smallest that did not, until they are
    `step` apart. `fits` returns None for an inconclusive trial (the machine, not the batch,
    ran short): the search stops there, and says so in "stopped", as it does after `max_trials`.

    Pure: `fits` runs the trials, so the search is tested without starting a process."""
    bad = stopped = grow = None
    candidate = first
    for _ in range(max_trials):
        verdict = fits(candidate)
        if verdict is None:
            stopped = f"inconclusive trial at batch {candidate}"
            break
        if verdict:
            good = candidate
        else:
            bad = candidate
        if bad is not None and bad - good <= step:
            break
        if bad is None:  # about 1/8 more at first (the linear guess is usually close), doubling
            grow = max(step, good // 8 // step * step) if grow is None else 2 * grow
            candidate = good + grow
        else:
            candidate = good + max(step, (bad - good) // 2 // step * step)
    else:
        stopped = f"after {max_trials} trials"
    return {"largest_batch": good, "smallest_failing": bad, "stopped": stopped}


def largest_batch(impl: str, rows: list[dict], *, max_trials: int = MAX_TRIALS) -> dict:
    """The largest training batch whose peak RSS stays within `budget_mib()`: a guess from the
    measured batch-32 and batch-64 peaks (memory grows about linearly with the batch), then
    `search`, each trial a run of its own under the watchdog. Same path for every impl."""
    peaks = {r["batch"]: r.get("peak_rss_mib") for r in rows
             if r["impl"] == impl and r["task"] == "train"}  # fmt: skip
    if not peaks.get(32) or not peaks.get(64):
        return {"error": "batch 32 and 64 peaks not measured"}
    limit = budget_mib()
    per_image = max((peaks[64] - peaks[32]) / 32, 1.0)
    guess = int(64 + (limit - peaks[64]) / per_image) // STEP * STEP
    tried = []

    def fits(batch: int) -> bool | None:
        result = run_workload(impl, "train", batch, limit_mib=limit)
        tried.append({"batch": batch, **result})
        logger.info(f"largest batch search {impl}: batch {batch}: {result}")
        if "error" in result and "machine below" in result["error"]:
            return None  # inconclusive: the machine, not this batch, ran short
        return "error" not in result

    found = search(fits, 64, max(guess, 64 + STEP), max_trials=max_trials)
    return {**found, "linear_estimate": guess, "budget_mib": round(limit), "trials": tried}


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
