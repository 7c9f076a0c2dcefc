"""The package as users get it: what the wheel holds, a fresh install, and entry points that do
nothing at import time."""

from __future__ import annotations

import configparser
import email.parser
import os
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = (
    "keras-resnet-train",
    "keras-resnet-cluster",
    "keras-resnet-eval",
    "keras-resnet-export",
    "keras-resnet-models",
    "keras-resnet-analysis",
    "keras-resnet-bench",
    "keras-resnet-serve",
    "keras-resnet-predict",
    "keras-resnet-demo",
)
# Modules a command line starts from: importing one must not touch signal handlers or file
# descriptors, nor import TensorFlow (so that --help is instant and a CLI can hide TF's start-up
# chatter before it loads). The server's modules import TensorFlow, but do nothing else.
ENTRY_MODULES = (
    "keras_resnet",
    "keras_resnet.cli.train",
    "keras_resnet.cli.cluster",
    "keras_resnet.cli.evaluate",
    "keras_resnet.cli.export",
    "keras_resnet.cli.models",
    "keras_resnet.cli.analysis",
    "keras_resnet.cli.bench",
    "keras_resnet.configs.overrides",
    "experiments.run",
    "keras_resnet.serving.tools.client",
    "keras_resnet.serving.tools.demo",
)
SERVER_MODULES = ("keras_resnet.serving.core.server", "keras_resnet.serving.tools.launch")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), ROOT],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (path,) = out.glob("keras_resnet-*.whl")
    return path


def _metadata(wheel_path):
    with zipfile.ZipFile(wheel_path) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        meta = email.parser.Parser().parsestr(z.read(info).decode())
        scripts = configparser.ConfigParser()
        scripts.read_string(z.read(entry_points).decode())
    return names, meta, scripts


def test_wheel_installs_only_the_keras_resnet_namespace(wheel):
    names, _, _ = _metadata(wheel)
    top = {n.split("/")[0] for n in names}
    assert top == {"keras_resnet", "keras_resnet-0.1.0.dist-info"}, top
    assert "keras_resnet/serving/core/server.py" in names  # the server ships inside the namespace
    assert "keras_resnet/configs/cifar10.py" in names  # and the paper's recipes
    assert "keras_resnet/imaging/imagenet_classes.txt" in names  # and ImageNet's class names
    assert not any(n.startswith(("serving/", "experiments/", "tests/")) for n in names)


def test_wheel_declares_ranges_extras_and_console_scripts(wheel):
    _, meta, scripts = _metadata(wheel)
    requires = meta.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("tensorflow<") or r.startswith("tensorflow>=") for r in core), core
    assert not [r for r in requires if "==" in r.split(";")[0]], "exact pins belong in the lock"
    assert {"serving", "experiments", "digits", "torch", "jax", "bench"} <= set(
        meta.get_all("Provides-Extra")
    )
    serving = [r for r in requires if 'extra == "serving"' in r]
    assert any(r.startswith("tensorflow-serving-api") for r in serving), serving
    assert set(scripts["console_scripts"]) == set(SCRIPTS)


@pytest.mark.parametrize("module", ENTRY_MODULES + SERVER_MODULES)
def test_entry_modules_do_nothing_at_import_time(module):
    may_import_tf = module in SERVER_MODULES
    probe = (
        "import os, signal, sys\n"
        "before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), os.fstat(2).st_ino)\n"
        f"import {module}\n"
        "after = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), os.fstat(2).st_ino)\n"
        "assert before == after, (before, after)\n"
        f"assert {may_import_tf} or 'tensorflow' not in sys.modules, 'imports TensorFlow'\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr


def _pins(lock: str, out) -> str:
    """The lock's pins without its hashes: a pip older than 25 (a fresh venv's) refuses hashes in
    a constraints file."""
    with open(lock) as f:
        pins = [re.sub(r"\s*\\$", "", line) for line in f if "--hash=" not in line]
    out.write_text("".join(pins))
    return str(out)


def _names_its_extra(script: str, out) -> bool:
    """Exactly one line on stderr naming the extra to install, exit status 2."""
    lines = out.stderr.splitlines()
    return (
        out.returncode == 2
        and len(lines) == 1
        and re.fullmatch(
            rf"{script}: error: needs the '(\w+)' extra \(.+ not installed\): "
            r'pip install "keras_resnet\[\1\]"',
            lines[0],
        )
        is not None
    )


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(wheel, tmp_path):
    """pip install the bare wheel (no extras) into a new venv and use it from outside the
    checkout, as a user would: import, build a model, every console script's --help (it works,
    or names the extra it needs in one line), a script run without its extra, pip check."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, pip = str(venv / "bin" / "python"), [str(venv / "bin" / "python"), "-m", "pip"]
    pins = _pins(os.path.join(ROOT, "requirements.txt"), tmp_path / "pins.txt")
    subprocess.run([*pip, "install", "--quiet", "-c", pins, str(wheel)], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    build = subprocess.run(
        [
            python,
            "-c",
            "import keras_resnet, os; assert 'site-packages' in keras_resnet.__file__;"
            "m = keras_resnet.create_model('resnet20');"
            "print(m.count_params(), keras_resnet.configs.recipe_path('resnet110'))",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    params, recipe = build.stdout.split()
    assert int(params) > 269_722  # trainable 269,722 plus BN statistics
    assert recipe.endswith("keras_resnet/configs/cifar10.py:resnet110") and os.path.exists(
        recipe.rsplit(":", 1)[0]
    )

    def run(script, *args):
        return subprocess.run(
            [str(venv / "bin" / script), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    for script in SCRIPTS:
        out = run(script, "--help")
        if out.returncode == 0:
            assert "\nflags:\n" in out.stdout, (script, out.stdout)
        else:
            assert _names_its_extra(script, out), (script, out.returncode, out.stderr[-2000:])
    # Past --help, the extras are really absent here: no aiohttp, no scikit-learn.
    serve = run("keras-resnet-serve", "--backend=embedded", "--dry_run", "--model_name=m",
                f"--model_base_path={tmp_path}")  # fmt: skip
    assert _names_its_extra("keras-resnet-serve", serve), serve.stderr[-2000:]
    assert "'serving' extra" in serve.stderr
    demo = run("keras-resnet-demo")
    assert _names_its_extra("keras-resnet-demo", demo), demo.stderr[-2000:]
    check = subprocess.run([*pip, "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
