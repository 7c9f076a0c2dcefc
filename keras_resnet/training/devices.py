"""What a run computes on, logged once at start-up by training and evaluation.

The first question about a slow or odd run is where it ran: which CPU, how many cores, which
GPUs, and whether they do mixed precision natively. A GPU job that found no GPU (a driver or
CUDA library that failed to load) runs on the CPU, hours slower, without an error: when the
host has an NVIDIA device and TensorFlow found none, that is a warning.

Mixed-precision support is the hardware's: a CPU with AVX512-BF16 or AMX (x86) or the BF16
extension (Arm) computes bfloat16 natively; AVX512-FP16/AMX-FP16 or Arm's half-precision
arithmetic does float16. Keras runs `precision=bfloat16|float16` anywhere, but without native
support it is emulated and slower than float32. NVIDIA GPUs: float16 tensor cores from compute
capability 7.0 (Volta), bfloat16 from 8.0 (Ampere).

Nothing here imports TensorFlow at import time (`keras_resnet.cli.startup` imports this module
before TensorFlow).
"""

from __future__ import annotations

import glob
import logging
import os
import platform

logger = logging.getLogger(__name__)

# CPU feature flags (/proc/cpuinfo "flags" on x86, "Features" on Arm) per native precision.
CPU_FEATURES = {
    "bfloat16": ("avx512_bf16", "amx_bf16", "bf16"),
    "float16": ("avx512_fp16", "amx_fp16", "fphp"),
}
GPU_MIN_CAPABILITY = {"bfloat16": (8, 0), "float16": (7, 0)}

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


def describe() -> tuple[list[str], str | None]:
    """(info lines, warning or None) about this process's devices. Lists physical devices
    only, which does not initialise the runtime (`--virtual_cpus` can still split the CPU)."""
    import keras
    import tensorflow as tf

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    lines = [
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}",
        cpu_line(read_cpuinfo(), cores, usable),
    ]
    gpus = tf.config.list_physical_devices("GPU")
    for i, gpu in enumerate(gpus):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (RuntimeError, ValueError):
            details = {}
        lines.append(gpu_line(i, details))
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


def log_devices(force: bool = False) -> None:
    """Logs `describe()` once per process (again with force=True)."""
    global _logged
    if _logged and not force:
        return
    _logged = True
    lines, warning = describe()
    for line in lines:
        logger.info("%s", line)
    if warning:
        logger.warning("%s", warning)
