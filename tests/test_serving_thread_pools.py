"""The embedded server applies --tensorflow_{intra,inter}_op_parallelism (as
tensorflow_model_server does) to TensorFlow's thread pools before it loads a model.

Each check runs `keras-resnet-serve --backend=embedded` in a process of its own: TensorFlow's
pools can only be set before it runs anything, which in this test process it already has."""

import os
import subprocess
import sys
import textwrap

import pytest

from keras_resnet.serving.tools.testing import export_tiny, free_port

# Starts the launcher's main() with the given flags; once the model is served, prints the pools
# TensorFlow reports in that process and ends it.
SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time, urllib.request
    import tensorflow as tf
    from keras_resnet.serving.tools import launch

    def report():
        url = f"http://127.0.0.1:{sys.argv[1]}/v1/models/tiny"
        for _ in range(600):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        threading_ = tf.config.threading
        print("POOLS", threading_.get_intra_op_parallelism_threads(),
              threading_.get_inter_op_parallelism_threads(), flush=True)
        os._exit(0)

    threading.Thread(target=report, daemon=True).start()
    sys.exit(launch.main(sys.argv[2:]))
    """
)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pools") / "tiny"
    export_tiny(path)
    return path


def _serve(export_dir, *flags):
    rest = free_port()
    argv = [
        "--backend=embedded",
        "--model_name=tiny",
        f"--model_base_path={export_dir}",
        f"--port={free_port()}",
        f"--rest_api_port={rest}",
        *flags,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(rest), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("POOLS"))
    return tuple(int(v) for v in line.split()[1:]), done.stderr


def test_the_embedded_server_applies_the_flags_before_loading(export_dir):
    pools, log = _serve(
        export_dir, "--tensorflow_intra_op_parallelism=3", "--tensorflow_inter_op_parallelism=1"
    )
    assert pools == (3, 1)
    assert "TensorFlow thread pools: intra-op 3, inter-op 1" in log


def test_without_flags_the_launcher_sizes_the_pools_for_the_cpus_it_may_use(export_dir):
    from keras_resnet.serving.core import thread_pools

    pools, _ = _serve(export_dir)
    sizes = thread_pools.pool_sizes(thread_pools.available_cpus())
    assert pools == (sizes[thread_pools.INTRA], sizes[thread_pools.INTER])
