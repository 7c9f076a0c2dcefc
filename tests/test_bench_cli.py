"""`keras-resnet-bench` logs its progress, as training and evaluation do, and prints only the
result (the Markdown table) on stdout. The measuring itself is a fake: nothing is timed here."""

import logging
import subprocess
import sys

from keras_resnet.bench import suite, summary
from keras_resnet.cli import bench, startup
from tests import optional

RESULTS = {
    "machine": {
        "host": "h",
        "cpu": "test cpu",
        "cores": 2,
        "gpus": [],
        "tensorflow": "x",
        "date": "d",
    },
    "quick": True,
    "peak_gflops": {"float32": 100.0},
    "rows": [],
    "ratios": {},
}


@optional.needs("bench")  # keras-resnet-bench stops first without its peers
def test_progress_is_logged_and_only_the_table_printed(monkeypatch, tmp_path, caplog, capsys):
    levels = []
    monkeypatch.setattr(startup, "quiet_tensorflow", lambda: None)  # TensorFlow is not run here
    # Not absl's handler on this process's root logger: caplog reads the records instead.
    monkeypatch.setattr(
        startup, "use_absl_logging", lambda verbosity=None: levels.append(verbosity)
    )

    def fake_run(quick, max_batch=False):
        assert (quick, max_batch) == (True, False)
        suite.logger.info("matmul peak float32: 100 GFLOP/s")
        return dict(RESULTS)

    monkeypatch.setattr(suite, "run", fake_run)
    with caplog.at_level(logging.INFO):
        assert bench.main(["--quick", f"--out_dir={tmp_path}", "--verbosity=-1"]) == 0
    out = capsys.readouterr().out
    assert out == summary.markdown(RESULTS) + "\n"
    assert "matmul peak float32" not in out and "wrote" not in out
    logged = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert ("keras_resnet.bench.suite", logging.INFO, "matmul peak float32: 100 GFLOP/s") in logged
    assert any(
        name == "keras_resnet.cli.bench" and m.startswith(f"wrote {tmp_path}/results-h-quick.json")
        for name, _, m in logged
    ), logged
    assert levels == [-1]  # --verbosity reaches absl's handler, as in the other commands
    assert (tmp_path / "results-h-quick.md").read_text() == out


@optional.needs("bench")
def test_importing_the_peers_keeps_the_log_handlers():
    """openvino's import drops the root logger's handlers: the benchmark's log lines after it
    were lost. In a fresh process, as `keras-resnet-bench` imports it."""
    code = (
        "import logging\n"
        "from keras_resnet.cli import startup\n"
        "startup.use_absl_logging(verbosity=0)\n"
        "before = list(logging.getLogger().handlers)\n"
        "from keras_resnet.bench import peers\n"
        "print(peers.available())\n"
        "assert before and logging.getLogger().handlers == before, logging.getLogger().handlers\n"
        "logging.getLogger('keras_resnet.bench.suite').info('still logged')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'openvino': '" in out.stdout  # the real package was imported (a dev requirement)
    assert "still logged" in out.stderr
