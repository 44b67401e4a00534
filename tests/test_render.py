"""Golden tests: every recording under data/recordings/ through every renderer.

The expected output is tests/golden/<format>/<recording>.expected; a missing
or different file fails.  After a deliberate change, regenerate with
`pytest --update-golden` and review the diff in the commit.
"""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, to_json
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.render import RENDERERS
from proctrace.render.mermaid import command_label, escape_label, render as _render_mermaid


def render_mermaid(batches, *, warn):
    return _render_mermaid(fold(items_of_events(batch) for batch in batches), warn=warn)

HERE = Path(__file__).parent
RECORDINGS = sorted((HERE / "data" / "recordings").glob("*.jsonl"))
CASES = [(fmt, rec) for fmt in sorted(RENDERERS) for rec in RECORDINGS]


@pytest.mark.parametrize("fmt, recording", CASES, ids=[f"{f}--{r.stem}" for f, r in CASES])
def test_golden(fmt, recording, tmp_path, update_golden, capsys):
    out = tmp_path / "out"
    assert main(["render", "-f", fmt, "-i", str(recording), "-o", str(out)]) == 0
    expected = HERE / "golden" / fmt / (recording.stem + ".expected")
    if update_golden:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_bytes(out.read_bytes())
    assert expected.exists(), f"no golden file {expected}: run pytest --update-golden and review it"
    assert out.read_bytes() == expected.read_bytes()


def test_every_process_is_a_task_in_tree_order():
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("a",)), Fork(2, 2, 3, 2), Fork(3, 1, 4, 1),
              Fork(4, 3, 5, 2), Exit(5, 5, 3, 2), Exit(6, 3, 2, 2), Exit(7, 2, 1, 2), Exit(8, 4, 1, 1)]
    text = b"".join(render_mermaid([events], warn=pytest.fail)).decode()
    tasks = [line.split(" (pid ")[1].split(",")[0] for line in text.splitlines() if "(pid " in line]
    assert tasks == ["2", "3", "5", "4"]


def test_reused_pid_is_a_new_process():
    events = [Fork(0, 1, 2, 1), Exit(1, 2, 1, 2), Fork(2, 1, 2, 1), Exec(3, 2, 1, 2, ("b",)), Exit(4, 2, 1, 2)]
    text = b"".join(render_mermaid([events], warn=pytest.fail)).decode()
    assert text.count("(pid 2,") == 2


@pytest.mark.parametrize("label, escaped", [
    ("curl http://x", "#99;url http#58;//x"),
    ("%CPU", "#37;CPU"),
    ("a #42; b", "#97; #35;42#59; b"),
    ("Section one", "#83;ection one"),
    ("2024-01-02 build", "#50;024-01-02 build"),
    ("click me", "#99;lick me"),
    ("/bin/sh -c 'x'", "/bin/sh -c 'x'"),
    ("(unknown command)", "(unknown command)"),
    (" x", "#32;x"),
    ('plain <b a="1">&', "#112;lain #60;b a=#34;1#34;#62;&"),
    ("\ufeffclick x", "\\ufeffclick x"),
    ("caf\u00e9 \u2028", "#99;af#233; \\u2028"),
])
def test_escape_label(label, escaped):
    assert escape_label(label) == escaped


def test_command_label_is_readable_and_bounded():
    assert command_label(["/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname", "--", "x"]) \
        == "dirname -- x"
    assert command_label(["sh", "-c", "echo 'hi'", ""]) == "sh -c 'echo '\\''hi'\\''' ''"
    assert command_label(["a\nb", b"\xff".decode("utf-8", "surrogateescape")]) == "'a\\nb' \\xff"
    long = command_label(["x" * 300], limit=100)
    assert len(long) == 100 and "..." in long


def test_oversized_chart_is_reported():
    events = [Fork(i, 1, 10 + i, 1) for i in range(1000)]
    warnings = []
    text = b"".join(render_mermaid([events], warn=warnings.append)).decode()
    assert len(text) > 50_000
    assert len(warnings) == 1 and "maxTextSize" in warnings[0]


@pytest.mark.parametrize("fmt", ["mermaid", "by-process", "multiplexed"])
def test_pids_beyond_64_bits_are_rendered_too(fmt, tmp_path, capsys):
    events = [Fork(1, 1, 2**70, 1), Exec(2, 2**70, 1, 2**70, ("a",)), Exit(3, 2**70, 1, 2**70)]
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(to_json(event).encode() + b"\n" for event in events))
    assert main(["render", "-f", fmt, "-i", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1180591620717411303424" in out


def test_a_format_whose_module_cannot_render_is_refused_in_one_line(monkeypatch, capsys):
    from proctrace.render import FORMATS, Format
    monkeypatch.setitem(FORMATS, "broken", Format("proctrace.errors", "tree", "a module with no render()"))
    recording = RECORDINGS[0]
    assert main(["render", "-f", "broken", "-i", str(recording)]) == 1
    assert capsys.readouterr().err == ("proctrace: error: format 'broken': module proctrace.errors "
                                       "defines no render() function\n")


def test_render_help_lists_every_format_with_its_description(capsys):
    from proctrace.render import FORMATS
    with pytest.raises(SystemExit):
        main(["render", "-h"])
    out = capsys.readouterr().out
    for name, spec in FORMATS.items():
        assert f"{name} " in out and spec.description in out
