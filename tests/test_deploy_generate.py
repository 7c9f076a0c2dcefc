"""deploy/ is exactly what its generator writes, and the training image's Dockerfile builds from
files that exist, the lock and a console script: checked statically, no Docker engine here."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil

import tomllib
import yaml

from deploy import generate, pods

ROOT = pods.ROOT


def test_committed_files_are_what_the_generator_writes():
    """Byte for byte: `make deploy` on a clean checkout changes nothing."""
    assert generate.stale() == []
    for name in generate.FILES:  # no YAML anchors and aliases: each object reads on its own
        if name.endswith(".yaml"):
            assert not any(getattr(e, "anchor", None) for e in yaml.parse(generate.render(name)))
    generated = set(generate.FILES)
    python = {n for n in os.listdir(generate.HERE) if n.endswith(".py") or n == "__pycache__"}
    assert set(os.listdir(generate.HERE)) - python == generated  # nothing unmanaged in deploy/


def test_check_names_a_hand_edited_file_and_write_restores_it(tmp_path, monkeypatch, capsys):
    for name in generate.FILES:
        shutil.copy(os.path.join(generate.HERE, name), tmp_path / name)
    monkeypatch.setattr(generate, "HERE", str(tmp_path))
    assert generate.main(["--check"]) == 0
    edited = tmp_path / "tfjob.yaml"
    edited.write_text(edited.read_text().replace("replicas: 2", "replicas: 3"))
    (tmp_path / "kserve.yaml").unlink()
    assert generate.main(["--check"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "deploy/tfjob.yaml differs from its generator; run `make deploy`",
        "deploy/kserve.yaml differs from its generator; run `make deploy`",
    ]
    assert generate.main([]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "wrote deploy/tfjob.yaml",
        "wrote deploy/kserve.yaml",
    ]
    assert generate.stale() == []


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", text)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.lstrip("!")):
            ignored = not negate
    return ignored


def test_the_dockerfile_builds_from_the_lock_as_non_root_into_a_console_script():
    with open(os.path.join(generate.HERE, "Dockerfile")) as f:
        steps = _instructions(f.read())
    with open(os.path.join(generate.HERE, "Dockerfile.dockerignore")) as f:
        ignore = [x for x in f.read().splitlines() if x and not x.startswith("#")]
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]

    base = next(args for op, args in steps if op == "FROM")
    version = re.fullmatch(r"python:(\d+\.\d+)-slim", base).group(1)
    assert version == pods.PYTHON_VERSION
    oldest = re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert tuple(map(int, version.split("."))) >= tuple(map(int, oldest))

    copied = [shlex.split(args)[:-1] for op, args in steps if op == "COPY"]
    sources = [src.rstrip("/") for srcs in copied for src in srcs]
    assert "requirements.txt" in sources and "pyproject.toml" in sources
    for src in sources:
        assert os.path.exists(os.path.join(ROOT, src)), f"COPY {src}: no such file"
        assert not _ignored(src, ignore), f"COPY {src}: left out of the build context"
    assert _ignored(".venv", ignore) and _ignored("runs", ignore)

    runs = [args for op, args in steps if op == "RUN"]
    assert any("--require-hashes -r requirements.txt" in r for r in runs)
    user = next(args for op, args in reversed(steps) if op == "USER")
    assert user.split(":")[0] not in ("0", "root")

    entrypoint = next(args for op, args in steps if op == "ENTRYPOINT")
    assert entrypoint == f'["{pods.TRAIN_CONSOLE_SCRIPT}"]'
    assert pods.TRAIN_CONSOLE_SCRIPT in project["scripts"]
