"""The one description of the machine: what a run, a benchmark, a report or the server computes on.

Training and evaluation log it at start-up (`log_devices`), the server logs it when it starts
(keras_resnet.serving.core.logs), `make bench` records `summary()` in its results, and the
experiment reports name `one_line()` as their hardware. One module, so they cannot disagree.
It imports only the standard library at import time (TensorFlow lazily, inside the functions
that list GPUs), so the serving core may use it without pulling in models or Keras.

The first question about a slow or odd run is where it ran: which CPU, how many cores, which
GPUs, and whether they do mixed precision natively. A GPU job that found no GPU (a driver or
CUDA library that failed to load) runs on the CPU, hours slower, without an error: when the
host has an NVIDIA device and TensorFlow found none, that is a warning.

Mixed-precision support is the hardware's: a CPU with AVX512-BF16 or AMX (x86) or the BF16
extension (Arm) computes bfloat16 natively; AVX512-FP16/AMX-FP16 or Arm's half-precision
arithmetic does float16. Keras runs `precision=bfloat16|float16` anywhere, but without native
support it is emulated and slower than float32. NVIDIA GPUs: float16 tensor cores from compute
capability 7.0 (Volta), bfloat16 from 8.0 (Ampere).

`keras_resnet.cli.startup` imports this module before TensorFlow.
"""

from __future__ import annotations

import glob
import importlib.metadata
import logging
import os
import platform
import socket
import time

logger = logging.getLogger(__name__)

# CPU feature flags (/proc/cpuinfo "flags" on x86, "Features" on Arm) per native precision.
CPU_FEATURES = {
    "bfloat16": ("avx512_bf16", "amx_bf16", "bf16"),
    "float16": ("avx512_fp16", "amx_fp16", "fphp"),
}
GPU_MIN_CAPABILITY = {"bfloat16": (8, 0), "float16": (7, 0)}
_DISPLAY = {"tensorflow": "TensorFlow", "keras": "Keras"}

_logged = False  # once per process: experiments.run trains several rows in one


def read_cpuinfo(path: str = "/proc/cpuinfo") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # not Linux
        return ""


def cpu_model_and_features(cpuinfo: str) -> tuple[str, set[str]]:
    """The first processor's model name and feature flags from /proc/cpuinfo's text."""
    model, features = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not features:
            features = set(value.split())
    return model or platform.processor() or platform.machine() or "unknown CPU", features


def native_precisions(features: set[str]) -> dict[str, str | None]:
    """{"bfloat16": flag or None, "float16": flag or None}: the first flag that shows native
    support, None where it would be emulated."""
    return {
        dtype: next((flag for flag in flags if flag in features), None)
        for dtype, flags in CPU_FEATURES.items()
    }


def cpu_line(cpuinfo: str, cores: int | None, usable: int | None) -> str:
    model, features = cpu_model_and_features(cpuinfo)
    native = native_precisions(features)
    precision = ", ".join(
        f"{dtype} {'native (' + flag + ')' if flag else 'emulated'}"
        for dtype, flag in native.items()
    )
    usable_note = f" ({usable} usable)" if usable and usable != cores else ""
    return f"CPU: {model}, {cores or '?'} logical cores{usable_note}; mixed precision: {precision}"


def gpu_line(index: int, details: dict) -> str:
    """One GPU from `tf.config.experimental.get_device_details`."""
    name = details.get("device_name") or "unknown GPU"
    capability = details.get("compute_capability")
    if not capability:  # ROCm and others report no CUDA compute capability
        return f"GPU {index}: {name}; mixed precision support unknown"
    precision = ", ".join(
        f"{dtype} {'native' if tuple(capability) >= minimum else 'emulated'}"
        for dtype, minimum in GPU_MIN_CAPABILITY.items()
    )
    cc = ".".join(str(v) for v in capability)
    return f"GPU {index}: {name}, compute capability {cc}; mixed precision: {precision}"


def nvidia_gpu_present() -> str | None:
    """Evidence of an NVIDIA GPU on this host whatever TensorFlow found (a device node, the
    driver, or an NVIDIA display/3D controller on the PCI bus); None when there is none."""
    for path in ("/dev/nvidiactl", "/proc/driver/nvidia/version", *glob.glob("/dev/nvidia[0-9]*")):
        if os.path.exists(path):
            return path
    for device in glob.glob("/sys/bus/pci/devices/*"):
        try:
            with open(f"{device}/vendor") as v, open(f"{device}/class") as c:
                if v.read().strip() == "0x10de" and c.read().strip().startswith("0x03"):
                    return device
        except OSError:
            continue
    return None


def usable_cpus() -> int:
    """Cores this process may run on: a container's cpuset, not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_model() -> str:
    return cpu_model_and_features(read_cpuinfo())[0]


def gpu_details() -> list[dict]:
    """`tf.config.experimental.get_device_details` of each physical GPU ({} where it fails).
    Lists physical devices only, which does not initialise the runtime (`--virtual_cpus` can
    still split the CPU afterwards)."""
    import tensorflow as tf

    details = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            entry = dict(tf.config.experimental.get_device_details(gpu))
        except (RuntimeError, ValueError):
            entry = {}
        entry.setdefault("device_name", gpu.name)
        details.append(entry)
    return details


def _version(package: str) -> str:
    try:  # the installed distribution's version: no need to import (and start) the package
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def describe(frameworks: tuple[str, ...] = ("tensorflow", "keras")) -> tuple[list[str], str | None]:
    """(info lines, warning or None) about this process's devices, led by the versions of
    `frameworks` (the server, which runs no Keras, passes ("tensorflow",))."""
    cores = os.cpu_count()
    lines = [
        ", ".join(f"{_DISPLAY.get(name, name)} {_version(name)}" for name in frameworks),
        cpu_line(read_cpuinfo(), cores, usable_cpus()),
    ]
    gpus = gpu_details()
    lines += [gpu_line(i, details) for i, details in enumerate(gpus)]
    warning = None
    if not gpus:
        evidence = nvidia_gpu_present()
        lines.append("GPU: none found")
        if evidence:
            warning = (
                f"this host has an NVIDIA GPU ({evidence}) but TensorFlow found none, so this "
                "runs on the CPU; the CUDA/driver messages above say why (TensorFlow needs "
                "`pip install tensorflow[and-cuda]` and a matching driver)."
            )
    return lines, warning


def summary() -> dict:
    """The machine as data, for result files (`make bench`'s results JSON)."""
    model, features = cpu_model_and_features(read_cpuinfo())
    return {
        "host": socket.gethostname(),
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable_cpus(),
        "native_precisions": {k: v for k, v in native_precisions(features).items() if v},
        "gpus": [d["device_name"] for d in gpu_details()],
        "tensorflow": _version("tensorflow"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def one_line() -> str:
    """ "<CPU>, N cores, GPU: ... | no GPU": the hardware line of a report."""
    gpus = [d["device_name"] for d in gpu_details()]
    return f"{cpu_model()}, {os.cpu_count()} cores" + (
        f", GPU: {', '.join(gpus)}" if gpus else ", no GPU"
    )


def log_devices(
    force: bool = False, frameworks: tuple[str, ...] = ("tensorflow", "keras"), log=None
) -> None:
    """Logs `describe()` once per process (again with force=True), to `log` (a Logger) or this
    module's logger."""
    global _logged
    if _logged and not force:
        return
    _logged = True
    logger_ = log or logger
    lines, warning = describe(frameworks)
    for line in lines:
        logger_.info("%s", line)
    if warning:
        logger_.warning("%s", warning)
