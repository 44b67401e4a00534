"""The README's format examples are real output: they must not go stale."""

import re
from pathlib import Path

import pytest

from proctrace.cli import main

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "tests" / "data" / "original" / "demo_script_ingested.log"


def _example_after(text, marker):
    """The first fenced block after the paragraph that starts with `marker`."""
    start = text.index(marker)
    block = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S).group(1)
    return [line for line in block.splitlines() if line != "..."]


@pytest.mark.parametrize("fmt, marker", [("multiplexed", "`multiplexed` (the default)"),
                                         ("by-process", "`by-process`: each process"),
                                         ("mermaid", "`mermaid`: a Gantt chart"),
                                         ("tree", "`tree`: the process tree"),
                                         ("summary", "`summary`: a short report"),
                                         ("summary-json", "`summary-json`: the same report")])
def test_readme_example_is_what_render_writes(fmt, marker, tmp_path):
    example = _example_after((ROOT / "README.md").read_text(), marker)
    out = tmp_path / "out"
    assert main(["render", "-f", fmt, "-i", str(RECORDING), "-o", str(out)]) == 0
    written = out.read_text().splitlines()
    assert example and written[:len(example)] == example
