"""A command's start-up: TensorFlow imported with only its known noise filtered, and logging.

TensorFlow's C++ runtime writes to file descriptor 2 while it loads, before absl or
`TF_CPP_MIN_LOG_LEVEL` apply: a oneDNN note, the CPU-feature notice, and on hosts without an
NVIDIA GPU the CUDA stub's "no driver" lines. Pointing fd 2 at /dev/null hid those, and with them
the CUDA and driver load errors that explain why a GPU job is running on the CPU. So fd 2 goes to
a temporary file while TensorFlow loads and probes its devices; afterwards every line is written
to the real stderr except the lines `is_noise` knows. The CUDA loader's lines count as noise only
on a host with no NVIDIA device at all, where they say nothing but "no GPU".

Logging: every command logs through Python's `logging` with absl's handler (timestamp, level,
thread, file:line), to stderr. stdout keeps the final result line only. `--verbosity` (absl's
flag) sets the level: -1 warnings only, 0 (the default) info, 1 debug. Below debug, libraries'
chatter stays below the threshold (`use_absl_logging`); --verbosity=1 shows it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

from keras_resnet import machine

# Start-up lines with nothing to act on, whatever the host.
_NOISE = [
    re.compile(p)
    for p in (
        r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to",
        r"\bport\.cc:\d+\] oneDNN custom operations are on\.",
        r"\bcpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available",
        r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate",
        # A registration race in the CUDA plugins of some TF builds, not a load failure.
        r"\] Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory",
        r"\] computation placer already registered\.",
    )
]
# The CUDA loader's lines: noise on a host without an NVIDIA device, the error to read otherwise.
_NO_GPU_NOISE = [
    re.compile(p)
    for p in (
        r"\bcudart_stub\.cc:\d+\] Could not find cuda drivers on your machine",
        r"\bcuda_(platform|executor|diagnostics)\.cc:\d+\] failed call to cuInit: ",
    )
]

_capture = None  # (saved fd 2, temporary file) while TensorFlow's start-up output is captured


def is_noise(line: str, nvidia_present: bool) -> bool:
    """True for a known start-up line that says nothing an operator needs."""
    patterns = _NOISE if nvidia_present else _NOISE + _NO_GPU_NOISE
    return any(p.search(line) for p in patterns)


def _begin_capture() -> None:
    global _capture
    sys.stderr.flush()
    try:
        tmp = tempfile.TemporaryFile()
    except OSError:  # no room for a temporary file: show everything rather than fail
        return
    saved = os.dup(2)
    os.dup2(tmp.fileno(), 2)
    _capture = (saved, tmp)


def end_capture() -> int:
    """Points fd 2 back at the real stderr and writes what was captured there, known noise
    left out; returns 2. Safe to call twice (the signal handler in `common` calls it so that
    an interruption's line comes after the replayed ones)."""
    global _capture
    if _capture is None:
        return 2
    (saved, tmp), _capture = _capture, None
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    tmp.seek(0)
    captured = tmp.read().decode(errors="replace")
    tmp.close()
    nvidia = machine.nvidia_gpu_present() is not None
    kept = [line for line in captured.splitlines() if line.strip() and not is_noise(line, nvidia)]
    if kept:
        os.write(2, ("\n".join(kept) + "\n").encode())
    return 2


def quiet_tensorflow() -> None:
    """Imports TensorFlow and probes its devices with the known start-up noise filtered out.

    Call it first thing in a CLI. Probing physical devices does not initialise the runtime,
    so `--virtual_cpus` can still split the CPU later.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ info and warnings; errors show
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    _begin_capture()
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        end_capture()


def use_absl_logging(verbosity: int | None = None) -> None:
    """Sends every Python logger's records through absl's handler on stderr, once each.

    `verbosity` (absl's scale) is for commands that do not parse absl flags; absl-flag
    commands pass None and `--verbosity` decides."""
    from absl import flags
    from absl import logging as absl_logging

    absl_logging.use_absl_handler()
    if verbosity is not None:
        if not flags.FLAGS.is_parsed():  # else absl prefixes "Logging before flag parsing"
            flags.FLAGS.mark_as_parsed()
        absl_logging.set_verbosity(verbosity)
    # TensorFlow gives its logger a handler of its own when it loads: without this, each of
    # its records would print twice, once without a timestamp.
    tf_logger = logging.getLogger("tensorflow")
    for handler in list(tf_logger.handlers):
        tf_logger.removeHandler(handler)
    # Libraries' own notes are for debugging: TensorFlow's info ("Using MirroredStrategy ...")
    # and the notes and warnings TFDS logs through absl's logger ("Variant folder ... has no
    # dataset_info.json"). Below --verbosity=1 they are held back; errors always show.
    debug = logging.getLogger().getEffectiveLevel() < logging.INFO
    logging.getLogger("tensorflow").setLevel(logging.NOTSET if debug else logging.WARNING)
    logging.getLogger("absl").setLevel(logging.NOTSET if debug else logging.ERROR)
