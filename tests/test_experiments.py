"""Experiment tables: every config is valid, the runner resumes and reports."""

import importlib
import os
import subprocess
import sys

import pytest

from experiments import run as runner
from keras_resnet.training import train


@pytest.mark.parametrize("table", runner.TABLES)
def test_every_table_config_is_valid(table):
    module = importlib.import_module(f"experiments.{table}")
    assert module.__doc__ and "python -m" in module.__doc__  # the exact command
    for name in module.MODELS:
        config = module.get_config(name)
        spec = train.validate(config)
        assert spec.name == config.model
        if name in module.PAPER:
            assert f"{module.PAPER[name]}" in module.__doc__  # the paper's number, in the docstring


def test_table_specific_settings():
    from experiments import digits_degradation, table2, table3, table6

    assert table6.get_config("resnet110").data.val_split == 5000
    assert table6.get_config("resnet110").warmup == "until_error"
    assert table2.get_config("resnet34").shortcut == "A"  # Table 2 uses option A
    assert table2.get_config("plain34").shortcut is None
    assert [table3.get_config(f"resnet34_{o}").shortcut for o in "ABC"] == ["A", "B", "C"]
    configs = [digits_degradation.get_config(m) for m in digits_degradation.MODELS]
    assert len({(c.num_epochs, c.batch_size, c.learning_rate) for c in configs}) == 1


def test_unknown_table_is_one_line_error():
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run", "table9"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown table 'table9'; choose one of table2, table3, table6, digits_degradation."
    ]


def test_overrides_use_train_syntax_and_fail_in_one_line():
    from keras_resnet.configs import cifar10, overrides
    from keras_resnet.errors import UserError

    config = overrides.apply(
        cifar10.get_config("resnet20"),
        ["--config.batch_size=64", "--config.lr_boundaries=(0.3,0.6)", "--config.shortcut=B"],
    )
    assert (config.batch_size, config.lr_boundaries, config.shortcut) == (64, (0.3, 0.6), "B")
    with pytest.raises(UserError, match='batch_sise.*Did you mean "batch_size"'):
        overrides.apply(cifar10.get_config(), ["--config.batch_sise=2"])
    with pytest.raises(UserError, match="batch_size=abc"):
        overrides.apply(cifar10.get_config(), ["--config.batch_size=abc"])
    with pytest.raises(SystemExit):  # the runner's own CLI: one line, exit 2
        runner.main_argv = None
        from keras_resnet.cli import common

        common.run_cli(runner.run, ["table6", "--set", "batch_size=2"])


SMALL_IMAGENET = [
    "--config.dataset=synthetic",
    "--config.scale=0.001",
    "--config.batch_size=2",
    "--config.num_epochs=1",
    "--config.data.image_size=64",
    "--config.data.scale_range=(72,96)",
    "--config.data.eval_resize=72",
    "--config.data.mean_examples=10",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "table, extra",
    [
        ("digits_degradation", ["--config.scale=0.1", "--config.num_epochs=3"]),
        (
            "table6",
            [
                "--config.dataset=digits",
                "--config.scale=0.1",
                "--config.batch_size=16",
                "--config.num_epochs=1",
                "--config.data.val_split=100",  # the paper's 5k would exceed digits' 1,437
            ],
        ),
        ("table2", SMALL_IMAGENET),
        ("table3", SMALL_IMAGENET),
    ],
)
def test_table_runs_small_and_resumes(table, extra, tmp_path):
    argv = [table, f"--workdir_root={tmp_path}/runs", f"--out={tmp_path}/out", "--num_images=50"]
    assert runner.run(argv + extra) == 0
    report = (tmp_path / "out" / f"{table}.md").read_text()
    module = importlib.import_module(f"experiments.{table}")
    for name in module.MODELS:
        assert f"| {name} | " in report and "not run" not in report
    assert "measured here" in report and "paper" in report
    assert (tmp_path / "out" / f"{table}_curves.png").stat().st_size > 1000
    assert (tmp_path / "out" / f"{table}_responses.png").stat().st_size > 1000
    # A second invocation finds every model finished and trains nothing.
    workdirs = list((tmp_path / "runs").iterdir())
    stamps = {p: p.stat().st_mtime for w in workdirs for p in w.rglob("results.json")}
    assert runner.run(argv + extra) == 0
    assert stamps == {p: p.stat().st_mtime for p in stamps}
