"""The exit-code table (keras_resnet.errors.EXIT_CODES) and the real keras-resnet-train command
ending with each status: a storage timeout 138, a SIGTERM 143, the rerun 0, a bad flag 2."""

import pytest

from keras_resnet.errors import EXIT, EXIT_CODES, TRANSIENT_EXIT, USER_ERROR_EXIT, is_transient
from tests import reliability_utils as u


def test_table_is_what_tfjob_exit_code_policy_expects():
    codes = [e.code for e in EXIT_CODES]
    assert len(set(codes)) == len(codes) and len(EXIT) == len(EXIT_CODES)
    assert EXIT == {
        "done": 0,
        "user_error": 2,
        "interrupted": 130,
        "transient": 138,
        "sigterm": 143,
    }
    for e in EXIT_CODES:
        # Kubeflow's restartPolicy ExitCode: 1-127 are permanent failures, 128-255 retryable.
        tfjob_retries = 128 <= e.code <= 255
        assert e.retry == tfjob_retries or e.name == "interrupted", e  # Ctrl-C: a person, no pod
    assert USER_ERROR_EXIT == 2 and TRANSIENT_EXIT == 138


@pytest.mark.parametrize(
    "error, transient",
    [(TimeoutError("slow"), True), (ValueError("x"), False), (OSError(28, "full"), False)],
)
def test_transient_classification(error, transient):
    assert is_transient(error) is transient


def test_tensorflow_errors_of_a_lost_peer_or_bucket_are_transient():
    import tensorflow as tf

    assert is_transient(tf.errors.UnavailableError(None, None, "Connection reset by peer"))
    assert is_transient(tf.errors.DeadlineExceededError(None, None, "GCS request timed out"))
    assert not is_transient(tf.errors.InvalidArgumentError(None, None, "bad shape"))


def _timeout_then(workdir):
    out = u.run(u.main_cmd(workdir), "backup:1:timeout")  # the bucket stops answering
    assert out.returncode == EXIT["transient"], out.stderr[-3000:]
    line = u.last_line(out.stderr)
    assert line.startswith("keras-resnet-train: error: transient, retry: storage error writing "), (
        line
    )
    assert "Traceback" not in out.stderr and "ckpt-00000004.weights.h5" in line


def test_storage_timeout_exits_138_and_a_config_error_2(tmp_path):
    workdir = str(tmp_path / "run")
    _timeout_then(workdir)
    out = u.run([*u.main_cmd(workdir), "--config.batch_size=0"])  # permanent
    assert out.returncode == EXIT["user_error"], out.stderr[-3000:]
    assert (
        u.last_line(out.stderr)
        == "keras-resnet-train: error: config.batch_size must be positive, got 0."
    )


@pytest.mark.slow
def test_the_command_exits_with_each_status_in_turn(tmp_path):
    """138, then the retry is preempted (143), then the next one finishes (0). The default
    suite has 143 and 0 in tests/test_interrupts.py and tests/test_preemption.py."""
    workdir = str(tmp_path / "run")
    _timeout_then(workdir)
    out = u.run(u.main_cmd(workdir), "step:2:term")
    assert out.returncode == EXIT["sigterm"], out.stderr[-3000:]
    assert u.last_line(out.stderr).startswith("interrupted: SIGTERM: saved a backup at step 2 ")
    out = u.run(u.main_cmd(workdir))
    assert out.returncode == EXIT["done"], out.stderr[-3000:]
    assert "resuming at step 2 " in out.stderr
    assert u.read_results(workdir)["steps"] == u.TINY["total_steps"]
