"""Operability: start-up noise filtered but loader errors kept, the device report, progress lines
when stdout is not a terminal, and commands that log with timestamp, level and source."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from keras_resnet import machine, progress
from keras_resnet.cli import startup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
# absl's format: level, date, time, thread, file:line, then the message.
LOGGED = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.]+\.py:\d+\] ")

ONEDNN = (
    "I0000 00:00:1795990263.205717   15075 port.cc:153] oneDNN custom operations are on. You may"
    " see slightly different numerical results due to floating-point round-off errors."
)
STUB = (
    "I0000 00:00:1795990263.206019   15075 cudart_stub.cc:31] Could not find cuda drivers on your"
    " machine, GPU will not be used."
)
CUINIT = (
    "E0000 00:00:1795990267.377392   15075 cuda_platform.cc:52] failed call to cuInit: INTERNAL:"
    " CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
)
CPU_GUARD = (
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow"
    " with the appropriate compiler flags."
)
DLOPEN = (
    "W0000 00:00:1795990267.377392   15075 dso_loader.cc:64] Could not load dynamic library"
    " 'libcudnn.so.9'; dlerror: libcudnn.so.9: cannot open shared object file"
)


def test_known_noise_is_filtered_and_loader_errors_are_kept():
    assert startup.is_noise(ONEDNN, nvidia_present=True)
    assert startup.is_noise(CPU_GUARD, nvidia_present=True)
    # The CUDA stub's lines mean "no GPU" only where there is none to find.
    assert startup.is_noise(STUB, nvidia_present=False)
    assert startup.is_noise(CUINIT, nvidia_present=False)
    assert not startup.is_noise(STUB, nvidia_present=True)
    assert not startup.is_noise(CUINIT, nvidia_present=True)
    assert not startup.is_noise(DLOPEN, nvidia_present=False)  # a library that failed to load
    assert not startup.is_noise("Segmentation fault", nvidia_present=False)


def test_capture_replays_everything_but_the_noise_on_the_real_stderr():
    """fd 2 as TensorFlow's C++ code writes it, in a child process (pytest owns ours)."""
    script = textwrap.dedent(f"""
        import os
        from keras_resnet.cli import startup
        startup._begin_capture()
        os.write(2, b{ONEDNN + chr(10)!r})
        os.write(2, b{DLOPEN + chr(10)!r})
        os.write(2, b"something unknown\\n")
        startup.end_capture()
        os.write(2, b"after\\n")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [DLOPEN, "something unknown", "after"]


CPUINFO_X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni
processor\t: 1
model name\t: AMD EPYC 9B14
"""
CPUINFO_ARM = """processor\t: 0
Features\t: fp asimd fphp asimdhp bf16
CPU implementer\t: 0x41
"""


def test_cpu_line_names_the_model_cores_and_native_precisions():
    line = machine.cpu_line(CPUINFO_X86, cores=2, usable=2)
    assert line == (
        "CPU: AMD EPYC 9B14, 2 logical cores; mixed precision: bfloat16 native (avx512_bf16), "
        "float16 emulated"
    )
    assert "(4 usable)" in machine.cpu_line(CPUINFO_X86, cores=16, usable=4)
    arm = machine.cpu_line(CPUINFO_ARM, cores=8, usable=8)
    assert arm.endswith("bfloat16 native (bf16), float16 native (fphp)")


@pytest.mark.parametrize(
    "capability, precision",
    [
        ((9, 0), "bfloat16 native, float16 native"),
        ((7, 5), "bfloat16 emulated, float16 native"),
        ((6, 1), "bfloat16 emulated, float16 emulated"),
    ],
)
def test_gpu_line_names_the_gpu_and_its_precisions(capability, precision):
    details = {"device_name": "NVIDIA H200", "compute_capability": capability}
    line = machine.gpu_line(0, details)
    cc = f"{capability[0]}.{capability[1]}"
    assert line == f"GPU 0: NVIDIA H200, compute capability {cc}; mixed precision: {precision}"
    assert machine.gpu_line(1, {"device_name": "AMD MI300"}).endswith("support unknown")


def test_a_gpu_host_where_tensorflow_finds_none_is_a_warning(monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this host has a GPU TensorFlow can use")
    monkeypatch.setattr(machine, "nvidia_gpu_present", lambda: None)
    lines, warning = machine.describe()
    assert lines[-1] == "GPU: none found" and warning is None
    assert lines[1].startswith("CPU: ")
    monkeypatch.setattr(machine, "nvidia_gpu_present", lambda: "/dev/nvidia0")
    _, warning = machine.describe()
    assert "NVIDIA GPU (/dev/nvidia0) but TensorFlow found none" in warning


def test_progress_logs_lines_without_a_terminal_and_a_bar_on_one(capsys):
    lines = []
    every = progress.Progress("evaluating", 4, every_s=1e-9, terminal=False, log=lines.append)
    for _ in range(4):
        every.add()
    assert len(lines) == 4 and lines[0].startswith("evaluating: 1/4 images (25%) | ")
    done = r"evaluating: 4/4 images \(100%\) \| [\d.]+ images/s \| elapsed \dm\d\ds ETA 0m00s"
    assert re.fullmatch(done, lines[-1]), lines[-1]
    lines.clear()
    quiet = progress.Progress("evaluating", 4, every_s=3600, terminal=False, log=lines.append)
    for _ in range(4):
        quiet.add()
    assert len(lines) == 1 and "4/4" in lines[0]  # nothing due before the end
    capsys.readouterr()
    bar = progress.Progress("evaluating", 4, terminal=True, log=lines.append)
    bar.add(4)
    assert "4/4" in capsys.readouterr().out and len(lines) == 1  # Keras' bar, no log line


def _run(cmd, timeout=300):
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`keras-resnet-train` as CI runs it (stdout a pipe), with a progress line every step."""
    workdir = str(tmp_path_factory.mktemp("run"))
    cmd = [
        sys.executable, "-m", "keras_resnet.cli.train", "--config=keras_resnet/configs/cifar10.py:resnet8",
        f"--workdir={workdir}", "--config.dataset=digits", "--config.batch_size=64",
        "--config.num_epochs=2", "--config.scale=0.3", "--config.progress_every_s=0.001",
    ]  # fmt: skip
    out = _run(cmd)
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir, out


def test_training_logs_devices_and_progress_and_prints_only_the_result(cli_run):
    _, out = cli_run
    assert len(out.stdout.strip().splitlines()) == 1 and "test top-1 error" in out.stdout
    log = out.stderr.strip().splitlines()
    assert log and all(LOGGED.match(line) for line in log), out.stderr[-3000:]
    messages = [LOGGED.sub("", line) for line in log]
    assert messages[0].startswith("TensorFlow ") and messages[1].startswith("CPU: ")
    assert any(m.startswith(("GPU: none found", "GPU 0: ")) for m in messages)
    step = re.compile(
        r"epoch \d/3 step \d+/13 \| loss [\d.]+ \| \d+ img/s \| elapsed \dm\d\ds ETA \dm\d\ds"
    )
    step_lines = [m for m in messages if step.fullmatch(m)]
    assert len(step_lines) >= 10, messages  # about one a step: 13 steps, every 1 ms
    assert any(re.match(r"epoch \d/3 validating: batch \d+ \| elapsed", m) for m in messages)
    assert any(m.startswith("epoch 3/3 step 13/13 | loss ") and "top-1 err" in m for m in messages)


def test_evaluation_logs_at_the_verbosity_asked(cli_run):
    workdir, _ = cli_run
    cmd = [sys.executable, "-m", "keras_resnet.cli.evaluate", f"--workdir={workdir}"]
    out = _run(cmd)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("center: top-1 error ") and len(out.stdout.splitlines()) == 1
    messages = [LOGGED.sub("", line) for line in out.stderr.splitlines() if LOGGED.match(line)]
    assert any(m.startswith("CPU: ") for m in messages)
    assert any(re.match(r"evaluating \(center\): 108/108 images \(100%\)", m) for m in messages)

    quiet = _run([*cmd, "--verbosity=-1"])
    assert quiet.returncode == 0 and quiet.stdout == out.stdout
    assert quiet.stderr.strip() == "", quiet.stderr
