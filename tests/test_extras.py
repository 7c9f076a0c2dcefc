"""A console script whose optional extra is missing says which one to install, in one line, and
exits 2 (keras_resnet.cli.extras). Each runs in a child process in which the extra's modules are
absent as for a bare `pip install keras_resnet`: `sys.modules[name] = None` makes find_spec
answer None and an import fail, which is what an uninstalled package does. The same with the real
absence, in a venv holding only the wheel: tests/test_packaging.py::test_wheel_in_a_fresh_venv."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
import tomllib

import keras_resnet
from keras_resnet.cli import extras
from keras_resnet.data import sources
from keras_resnet.errors import MissingExtra, UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _run(module: str, args: list[str], absent: list[str]) -> subprocess.CompletedProcess:
    code = (
        f"import sys\nfor name in {absent!r}:\n    sys.modules[name] = None\n"
        f"sys.argv = ['prog', *{args!r}]\nfrom {module} import main\nsys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def _line(program: str, extra: str, absent: list[str]) -> str:
    return (
        f"{program}: error: needs the '{extra}' extra ({', '.join(absent)} not installed): "
        f'pip install "keras_resnet[{extra}]"'
    )


def test_the_checked_extras_are_pyprojects():
    declared = set(_pyproject()["optional-dependencies"]) - {"all"}
    assert set(extras.MODULES) == declared


@pytest.mark.parametrize("extra", sorted(extras.MODULES))
def test_each_extras_packages_bring_the_modules_checked_for_it(extra):
    """Every package the extra names installs one of the modules checked for it, where it is
    installed here (after `make install-all`, all of them are)."""
    provides = importlib.metadata.packages_distributions()
    checked = set(extras.MODULES[extra])
    for requirement in _pyproject()["optional-dependencies"][extra]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        if name == "keras_resnet":  # another extra, e.g. bench includes torch
            continue
        modules = {m for m, dists in provides.items() if name.lower() in map(str.lower, dists)}
        if modules:
            assert modules & checked, (extra, name, modules)


def test_every_scripts_help_works_without_any_extra(tmp_path):
    """--help needs no extra: every script imports its heavy modules after parsing its flags."""
    absent = sorted({m for modules in extras.MODULES.values() for m in modules})
    for script, target in _pyproject()["scripts"].items():
        out = _run(target.split(":")[0], ["--help"], absent)
        assert out.returncode == 0, (script, out.stderr[-2000:])
        assert "\nflags:" in out.stdout, (script, out.stdout)


@pytest.mark.parametrize(
    "program,module,args,absent,extra",
    [
        (
            "keras-resnet-serve",
            "keras_resnet.serving.tools.launch",
            ["--backend=embedded", "--dry_run", "--model_name=m", "--model_base_path={tmp}"],
            ["aiohttp"],
            "serving",
        ),
        (
            "keras-resnet-predict",
            "keras_resnet.serving.tools.client",
            ["--grpc=localhost:1", "--model=m", "{tmp}/model.keras"],
            ["grpc", "tensorflow_serving"],
            "serving",
        ),
        ("keras-resnet-demo", "keras_resnet.serving.tools.demo", [], ["sklearn"], "digits"),
        (
            "keras-resnet-train",
            "keras_resnet.cli.train",
            ["--model=resnet20", "--workdir={tmp}/run", "--config.dataset=digits"],
            ["sklearn"],
            "digits",
        ),
        ("keras-resnet-demo", "keras_resnet.serving.tools.demo", [], ["prometheus_client"], "serving"),
        ("keras-resnet-analysis", "keras_resnet.cli.analysis", ["{tmp}"], ["matplotlib"], "experiments"),
        ("keras-resnet-bench", "keras_resnet.cli.bench", ["--quick"], ["openvino"], "bench"),
    ],
)  # fmt: skip
def test_a_script_names_its_missing_extra_in_one_line(
    tmp_path, program, module, args, absent, extra
):
    (tmp_path / "model.keras").write_bytes(b"")  # the workdir's file exists; never read
    out = _run(module, [a.format(tmp=tmp_path) for a in args], absent)
    assert out.returncode == 2, out.stderr[-2000:]
    # Named: the modules made absent here, and any of the extra's not installed at all.
    named = [m for m in extras.MODULES[extra] if m in absent or m in extras.absent(extra)]
    assert out.stderr.splitlines() == [_line(program, extra, named)], out.stderr
    assert out.stdout == ""  # nothing started


def test_the_digits_data_without_scikit_learn_names_its_extra(monkeypatch):
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtra) as e:
        sources.load_source("digits", model_style="cifar", model_classes=10)
    assert isinstance(e.value, UserError)  # the CLIs print it as one line, exit 2
    assert str(e.value) == (
        "needs the 'digits' extra (sklearn not installed): pip install \"keras_resnet[digits]\""
    )


def test_a_pth_file_without_torch_names_the_torch_extra(monkeypatch, tmp_path):
    path = tmp_path / "resnet18.pth"
    path.write_bytes(b"never read")
    monkeypatch.setitem(sys.modules, "torch", None)  # as where torch is not installed
    with pytest.raises(MissingExtra) as e:
        keras_resnet.create_model("resnet18", weights=path)
    assert str(e.value) == (
        "needs the 'torch' extra (torch not installed): pip install \"keras_resnet[torch]\"; "
        f"or convert {str(path)!r} to .safetensors or .npz first."
    )
