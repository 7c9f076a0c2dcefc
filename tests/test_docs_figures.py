"""Every measured figure in docs/*.md is read from a committed artifact, so the two cannot drift.

A doc ties a paragraph, list or table to its artifacts with a comment on the line before it (or
inside a list, before the items it covers):

    <!-- figures: bench/results-vm.json bench/profile-vm.md -->

The block runs to the next blank line (or the next such comment). Every measured figure in it
(a number with a unit: s, min, hours, ms, GiB, MiB, GB, MB, img/s, req/s, %, x/×) and every number in a
table row but its first column (the row's name) and its header must equal, at the rounding shown, a number one of those artifacts holds (a JSON value, key
or a number inside a string; any number in a Markdown artifact). A % may also be a fraction the
artifact holds; a GiB figure may be MiB the artifact holds. `test_no_measured_figure_outside_a_block`
fails on any measured figure outside a block that EXEMPT does not name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))

NUM = r"\d[\d,]*(?:\.\d+)?"
UNIT = r"(?:s|seconds|min|minutes|hours|ms|GiB|MiB|GB|MB|img/s|images/s|req/s|requests/s|%|×|x)"
# A number (or a range / pair of them: 12-30%, 5.1 / 9.0 GiB) followed by a unit. The look-behind
# skips digits inside names (ResNet-56, float32); the look-ahead skips 224x224 and 3x3.
MEASURED = re.compile(
    rf"(?<![\w.\-])(?P<a>{NUM})(?:\s?(?:-|–|/)\s?(?P<b>{NUM}))?\s?{UNIT}(?=[\s),.;:|*]|$)"
)
# Any number in a table row: "3,337", "92 / 104", "0.28 (0.33 ± 0.08)", "22.1 filter reorders".
PLAIN = re.compile(rf"(?<![\w.\-]){NUM}(?![\w])")
BLOCK = re.compile(r"<!-- figures: (?P<artifacts>[^>]*?) -->")
# A target the issue sets ("≥ 1.3×", "target >= 0.8x", "≤ 1.1×") is a goal, not a measurement.
TARGET = re.compile(rf"(?:≥|>=|≤|<=)\s?{NUM}\s?{UNIT}")

# Figures that are not measurements, each named narrowly: (doc, exact phrase, why).
EXEMPT = [
    ("clusters.md", "(2-10 at 70%)", "the HorizontalPodAutoscaler's settings in deploy/"),
    ("clusters.md", "every 60 s", "the model server's file-system poll interval (config)"),
    ("clusters.md", "allows 5 minutes", "the startup probe's budget (config)"),
    ("clusters.md", "30 s of grace", "terminationGracePeriodSeconds (config)"),
    ("design.md", "the 2 GB that issue 24 aimed at", "the issue's target"),
    ("models.md", "within 3% of Table 1", "the tolerance tests/test_models.py asserts"),
    ("experiments.md", "lr ÷10 at 50% and 75%", "the schedule's milestones (config)"),
    ("experiments.md", "(360 test images: 0.28% each)", "one image of the 360: arithmetic"),
    ("performance.md", "as 3×", "the FLOP count's convention (code)"),
    ("performance.md", "above 100%", "the definition of % of peak"),
    ("performance.md", "less 1 GiB", "the memory search's margin (keras_resnet/bench/memory.py)"),
    ("performance.md", "at least 99% of", "the agreement tests/test_export_precision.py asserts"),
    ("serving.md", "for 3 s per cell", "--quick's time per cell (serving_bench.py)"),
    ("training.md", "Table 6: 6.43%", "the paper's number (experiments/paper.py)"),
    ("training.md", "(smoke run: 1% of the steps", "what scale=0.01 means (config)"),
    ("reliability.md", "64 MiB tmpfs", "the size of the test's file system (config)"),
    ("reliability.md", "limit 10%", "the growth tests/test_serving_soak.py allows"),
    ("weights.md", "every 5 seconds", "the progress line's interval (code)"),
]


def _numbers(value, out: set) -> set:
    """Every number an artifact holds: values, numbers in keys and strings."""
    if isinstance(value, dict):
        for key, item in value.items():
            _numbers(str(key), out)
            _numbers(item, out)
    elif isinstance(value, list):
        for item in value:
            _numbers(item, out)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        out.add(float(value))
    else:
        out.update(float(n.replace(",", "")) for n in re.findall(NUM, str(value)))
    return out


# The command that regenerates each artifact, for the failure messages.
COMMANDS = {
    "bench/install-": "make install-footprint",
    "bench/results-h200": "WHEELS=DIR OUT=DIR bash bench/accelerator.sh (on the GPU machine)",
    "bench/results-": "make bench ARGS=--max_batch",
    "bench/memory-": "make bench-memory",
    "bench/profile-": "make bench-profile",
    "bench/serving-": "make bench-serving ARGS=--out=bench",
    "bench/soak-": "make bench-soak",
    "experiments/results/h200/": "bash bench/accelerator.sh (on the GPU machine)",
    "experiments/results/": "make experiment TABLE=<table> ARGS=--runs=3",
}


def _command(artifact: str) -> str:
    return next(c for prefix, c in COMMANDS.items() if artifact.startswith(prefix))


def _artifact_numbers(name: str) -> set:
    path = ROOT / name
    assert path.is_file(), f"no artifact {name}: regenerate it with `{_command(name)}`"
    text = path.read_text()
    return _numbers(json.loads(text) if name.endswith(".json") else text, set())


def _held(shown: str, unit: str, numbers: set) -> bool:
    value = float(shown.replace(",", ""))
    half = 0.5 * 10 ** -(len(shown.split(".")[1]) if "." in shown else 0) + 1e-9
    scales = [1.0] + ([100.0] if unit == "%" else []) + ([1 / 1024] if unit == "GiB" else [])
    return any(abs(n * s - value) <= half for n in numbers for s in scales)


def _blocks(text: str):
    """(artifact names, first line, the block's lines) for every figures comment."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = BLOCK.search(line)
        if not match:
            continue
        block = []
        for following in lines[i + 1 :]:
            if not following.strip() or BLOCK.search(following):
                break
            block.append(following)
        yield match["artifacts"].split(), i + 1, block


def _figures(line: str, doc: str, cells: bool = False):
    """(shown number, unit) for every measured figure on a line of docs/doc, less the targets
    and EXEMPT's phrases; with `cells`, on a table row, every other number too, save in the
    first column (the row's name) and inside names (ResNet-56, float32)."""
    line = TARGET.sub("", line)
    for name, phrase, _ in EXEMPT:
        line = line.replace(phrase, "") if name == doc else line
    taken = []
    for match in MEASURED.finditer(line):
        unit = re.match(rf"\s?{UNIT}", line[match.end("b" if match["b"] else "a") :]).group(0)
        taken.append(match.span())
        yield from ((n, unit.strip()) for n in (match["a"], match["b"]) if n)
    if cells and line.lstrip().startswith("|"):
        first_cell_end = line.index("|", line.index("|") + 1)
        for match in PLAIN.finditer(line, first_cell_end):
            if not any(a <= match.start() < b for a, b in taken):
                yield match.group(0), ""


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_block_figures_equal_their_artifacts(doc):
    wrong = []
    for artifacts, line_number, block in _blocks(doc.read_text()):
        numbers = set().union(*(_artifact_numbers(a) for a in artifacts))
        for i, line in enumerate(block):
            header = i + 1 < len(block) and block[i + 1].lstrip().startswith("|--")
            for shown, unit in _figures(line, doc.name, cells=not header):
                if not _held(shown, unit, numbers):
                    wrong.append(
                        f"{shown}{unit} (block at line {line_number}: not in {' or '.join(artifacts)}; "
                        f"rerun `{' / '.join({_command(a) for a in artifacts})}` and copy its "
                        "figure, or remove it)"
                    )
        if artifacts and not block:
            wrong.append(f"an empty figures block at line {line_number}")
    assert not wrong, f"docs/{doc.name} shows figures their artifacts do not hold: {wrong}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_measured_figure_outside_a_block(doc):
    text = doc.read_text()
    inside = {line for _, _, block in _blocks(text) for line in block}
    loose = []
    for line in text.splitlines():
        if line not in inside:
            loose += [f"{shown}{unit}" for shown, unit in _figures(line, doc.name) if unit]
    assert not loose, (
        f"docs/{doc.name} shows measured figures with no artifact behind them: {loose}; "
        "put them in a <!-- figures: ARTIFACT --> block, or remove them"
    )


@pytest.mark.parametrize("doc, phrase, why", EXEMPT, ids=lambda v: str(v)[:25])
def test_every_exemption_is_still_in_its_doc(doc, phrase, why):
    assert phrase in (ROOT / "docs" / doc).read_text(), f"docs/{doc} no longer says {phrase!r}"


def test_the_checks_catch_a_wrong_figure(tmp_path):
    """The matching itself: a figure the artifact holds at its rounding passes, another fails."""
    numbers = _numbers({"rows": [{"images_per_s": 25.37, "pct_of_peak": 91.9}], "r": 0.915}, set())
    assert _held("25.4", "img/s", numbers) and _held("92", "%", numbers)
    assert not _held("25.5", "img/s", numbers) and not _held("93", "%", numbers)
    text = "<!-- figures: bench/x.json -->\n| a1 | 1.07× | 3,337 | 0.2 (0.3 ± 0.1) |\n\n2.5 GiB"
    ((artifacts, _, block),) = _blocks(text)
    assert artifacts == ["bench/x.json"] and block == [text.splitlines()[1]]
    assert list(_figures(block[0], "x.md", cells=True)) == [
        ("1.07", "×"),
        ("3,337", ""),
        ("0.2", ""),
        ("0.3", ""),
        ("0.1", ""),
    ]
    line = "2.5 GiB outside, ≥ 1.3× target, 224x224, ResNet-56, every 60 s"
    assert list(_figures(line, "clusters.md")) == [("2.5", "GiB")]
