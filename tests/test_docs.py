"""Every code block in README.md and docs/ runs here, or says why it does not.

- ```python blocks run, in order, one subprocess per file (later blocks see earlier names), in a
  temporary directory.
- ```bash blocks run too, each line in a shell, from the repository root with .venv's bin first
  on PATH.
- ```yaml blocks must parse.
- A block right after a `<!-- not run: REASON -->` line is not run (it needs data, a network, a
  server or hours); it must give a reason. Its commands are still checked: every `make TARGET`
  is a Makefile target, every `keras-resnet-*` a console script, every `python -m MODULE` an
  importable module.
- Blocks without a language are listings (a layout, a log excerpt), not code.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$")


def blocks(path: Path) -> list[tuple[str, str, str | None, int]]:
    """(language, code, not-run reason or None, line) for each fenced block of `path`."""
    text = path.read_text()
    found = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NOT_RUN.search(before)
        line = text.count("\n", 0, m.start()) + 1
        found.append((m.group(1), m.group(2), reason.group(1) if reason else None, line))
    return found


def commands(code: str) -> list[list[str]]:
    """The shell command lines of a bash block, continuation lines joined, comments dropped."""
    joined = code.replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            try:
                lines.append(shlex.split(line))
            except ValueError:  # an unbalanced quote inside $(...): keep the words we can
                lines.append(line.split())
    return lines


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


def _console_scripts() -> set[str]:
    """[project.scripts]' names (a regex: tomllib is Python 3.11+, the package supports 3.10)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r'^([\w-]+)\s*=\s*"', section, re.M))


ALL_BLOCKS = [(path, *block) for path in DOCS for block in blocks(path)]


def _id(entry) -> str:
    path, lang, _, _, line = entry
    return f"{path.relative_to(ROOT)}:{line}:{lang or 'text'}"


def test_the_docs_have_blocks_of_every_kind():
    languages = {lang for _, lang, *_ in ALL_BLOCKS}
    assert {"python", "bash", "yaml"} <= languages, languages
    assert (ROOT / "docs" / "design.md").exists()


@pytest.mark.parametrize("entry", ALL_BLOCKS, ids=_id)
def test_every_command_named_in_a_block_exists(entry):
    path, lang, code, reason, line = entry
    if reason is not None:
        assert reason.strip(), f"{_id(entry)}: a not-run block must say why"
    if lang not in ("bash", "sh"):
        return
    targets, scripts = _make_targets(), _console_scripts()
    for words in commands(code):
        for i, word in enumerate(words):
            if word == "make" and i + 1 < len(words) and not words[i + 1].startswith("-"):
                assert words[i + 1] in targets, f"{_id(entry)}: no make target {words[i + 1]}"
            if word.startswith("keras-resnet-"):
                assert word in scripts, f"{_id(entry)}: no console script {word}"
            if word == "-m" and i > 0 and words[i - 1].endswith(("python", "python3", "$(PY)")):
                module = words[i + 1]
                assert importlib.util.find_spec(module), f"{_id(entry)}: no module {module}"


@pytest.mark.parametrize(
    "entry", [e for e in ALL_BLOCKS if e[1] == "yaml" and e[3] is None], ids=_id
)
def test_yaml_blocks_parse(entry):
    assert yaml.safe_load(entry[2]) is not None


@pytest.mark.parametrize(
    "entry", [e for e in ALL_BLOCKS if e[1] in ("bash", "sh") and e[3] is None], ids=_id
)
def test_bash_blocks_run(entry, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for words in commands(entry[2]):
        proc = subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{_id(entry)}: {shlex.join(words)}\n{proc.stderr[-2000:]}"


PYTHON_FILES = sorted({e[0] for e in ALL_BLOCKS if e[1] == "python" and e[3] is None})


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path, tmp_path):
    code = [
        c for p, lang, c, reason, _ in ALL_BLOCKS if p == path and lang == "python" and not reason
    ]
    script = "\n\n".join(code)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(tmp_path / "keras")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{path.name}'s python blocks failed:\n{proc.stderr[-3000:]}"
