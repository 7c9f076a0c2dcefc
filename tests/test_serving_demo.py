"""`make demo` end to end (slow: it trains). The demo itself checks REST and gRPC against
in-process model.predict and exits non-zero on a mismatch."""

import pytest

from keras_resnet.serving.tools import demo


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["builtin", "keras_resnet"])
def test_demo_runs_end_to_end(tmp_path, capsys, trainer):
    argv = [f"--workdir={tmp_path}/run", f"--export_dir={tmp_path}/models/digits"]
    assert demo.main(argv + ["--epochs=1", "--images=8", f"--trainer={trainer}"]) == 0
    out = capsys.readouterr().out
    assert "OK: demo finished" in out and f"trainer: {trainer}" in out
    assert (tmp_path / "models" / "digits" / "1" / "saved_model.pb").exists()
