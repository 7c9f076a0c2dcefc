"""One command-line pattern for every script: a bad flag is exit 2 and at most three lines on
stderr under the script's own name; `--help` exits 0. Each script runs in a process of its own,
as its console-script entry point runs it (`from MODULE import main; sys.exit(main())`)."""

import os
import subprocess
import sys

import pytest
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    CONSOLE_SCRIPTS = tomllib.load(f)["project"]["scripts"]
# Tools run with `python -m`: they name themselves by module.
MODULES = ("keras_resnet.serving.tools.soak", "keras_resnet.serving.tools.serving_bench")
PROGRAMS = {**CONSOLE_SCRIPTS, **{m: f"{m}:main" for m in MODULES}}
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(program: str, *args: str) -> subprocess.CompletedProcess:
    module, function = PROGRAMS[program].split(":")
    # argv[0] is the script's name, as the console-script wrapper has it.
    code = f"import sys; sys.argv[0] = {program!r}; from {module} import {function}; "
    code += f"sys.exit({function}())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_console_script_is_covered():
    assert sorted(CONSOLE_SCRIPTS) == [
        "keras-resnet-analysis",
        "keras-resnet-bench",
        "keras-resnet-cluster",
        "keras-resnet-demo",
        "keras-resnet-eval",
        "keras-resnet-export",
        "keras-resnet-models",
        "keras-resnet-predict",
        "keras-resnet-serve",
        "keras-resnet-train",
    ]


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_bad_flag_is_exit_2_and_one_short_error_under_the_script_name(program):
    bad = _run(program, "--no_such_flag=3")
    assert bad.returncode == 2, bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, bad.stderr
    assert lines[0].startswith(f"{program}: error: "), bad.stderr
    assert "no_such_flag" in lines[0] and "Traceback" not in bad.stderr
    helped = _run(program, "--help")
    assert helped.returncode == 0, helped.stderr
    assert program in helped.stdout and "\nflags:" in helped.stdout, helped.stdout


@pytest.mark.parametrize(
    "program, args, reason",
    [
        ("keras-resnet-serve", ["--port=http"], "port"),
        ("keras-resnet-serve", ["--model_base_path=/no/such/dir", "--dry_run"], "/no/such/dir"),
        ("keras-resnet-export", ["--export_dir=/tmp/x"], "SOURCE"),
        ("keras-resnet-predict", ["--model=m", "/no/such/image.png"], "/no/such/image.png"),
        ("keras-resnet-analysis", ["/no/such/run"], "/no/such/run/model.keras"),
    ],
)
def test_bad_values_and_missing_files_are_one_line_exit_2(program, args, reason):
    done = _run(program, *args)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{program}: error: ") and reason in line, line
