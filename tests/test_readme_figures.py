"""Every measured figure on the README's front page is read from the committed artifact that the
named command regenerates, so the two cannot drift apart.

FIGURES lists, for each figure, the README phrase it sits in (a regex whose groups are the
numbers) and where the artifact holds each number. A README sentence that changes its numbers
without the artifact, or the other way round, fails here; a number the README shows in a measured
sentence but that is not listed fails `test_no_unlisted_measurement`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# (README regex, artifact, JSON paths of its groups, command that regenerates the artifact)
FIGURES = [
    (
        r"`make install` takes (\d+) s and ([\d.]+) GiB here",
        "bench/install-vm.json",
        ("install.seconds", "install.venv_gib"),
        "make install-footprint",
    ),
    (
        r"OpenVINO \(([\d.]+) GiB in all\)",
        "bench/install-vm.json",
        ("install_all.venv_gib",),
        "make install-footprint",
    ),
    (
        r"Every test, (\d+) of them with the (\d+) slow ones, passed in ([\d.]+) min",
        "bench/test-suite-vm.json",
        ("outcomes.passed", "slow_tests", "wall_minutes"),
        "make test-report",
    ),
]


def _at(data: dict, path: str):
    for key in path.split("."):
        data = data[key]
    return data


@pytest.mark.parametrize("pattern, artifact, paths, command", FIGURES, ids=lambda v: str(v)[:30])
def test_readme_figure_equals_its_artifact(pattern, artifact, paths, command):
    match = re.search(pattern, README.replace("\n", " "))
    assert match, f"README no longer says {pattern!r}; update FIGURES"
    data = json.loads((ROOT / artifact).read_text())
    for shown, path in zip(match.groups(), paths, strict=True):
        assert float(shown) == float(_at(data, path)), (
            f"README shows {shown} where {artifact} ({command}) holds {_at(data, path)} at {path}"
        )
    assert command.split()[1] in (ROOT / "Makefile").read_text()


def test_no_unlisted_measurement():
    """Seconds, minutes, GiB, img/s and percentages are measurements: each on the front page
    must sit inside a phrase FIGURES ties to an artifact."""
    text = README.replace("\n", " ")
    covered = [m.span() for pattern, *_ in FIGURES for m in re.finditer(pattern, text)]
    unit = re.compile(r"\b\d[\d,.]*\s?(?:s|min|GiB|GB|img/s|req/s|%)(?=[\s),.;:]|$)")
    loose = [
        m.group(0) for m in unit.finditer(text) if not any(a <= m.start() < b for a, b in covered)
    ]
    assert not loose, f"README figures with no artifact behind them: {loose}"
