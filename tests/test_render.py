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
from proctrace.render import RENDERERS, by_process, mermaid
from proctrace.render.mermaid import command_label, escape_label, render as render_mermaid
from strategies import argvs, histories

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
    ("curl http://x", "curl http#58;//x"),
    ("%CPU", "#37;CPU"),
    ("a #42; b", "a #35;42#59; b"),
    ("Section one", "#83;ection one"),
    ("2024-01-02 build", "#50;024-01-02 build"),
    ("click me", "#99;lick me"),
    ("plain <b>&", "plain <b>&"),
])
def test_escape_label(label, escaped):
    assert escape_label(label) == escaped


def test_command_label_is_readable_and_bounded():
    assert command_label(["/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname", "--", "x"]) \
        == "<store>/dirname -- x"
    assert command_label(["sh", "-c", "echo 'hi'", ""]) == "sh -c 'echo '\\''hi'\\''' ''"
    assert command_label(["a\nb", b"\xff".decode("utf-8", "surrogateescape")]) == "'a\\nb' \\xff"
    long = command_label(["x" * 300], limit=100)
    assert len(long) == 100 and "…" in long


def test_oversized_chart_is_reported():
    events = [Fork(i, 1, 10 + i, 1) for i in range(1000)]
    warnings = []
    text = b"".join(render_mermaid([events], warn=warnings.append)).decode()
    assert len(text) > 50_000
    assert len(warnings) == 1 and "maxTextSize" in warnings[0]


def _prepared_batches(events, chunk_lines, prepare_chunk, unpack_chunk):
    """The events as the CLI hands them to a renderer from a file: chunks of
    lines prepared (in the helper) and unpacked (in the main process), or the
    lines themselves where prepare_chunk declines the chunk."""
    lines = [to_json(event).encode() for event in events]
    batches = []
    for start in range(0, len(lines), chunk_lines):
        body = b"\n".join(lines[start:start + chunk_lines]) + b"\n"
        prepared = prepare_chunk(body)
        batches.append(unpack_chunk(body, prepared)[1] if prepared is not None else lines[start:start + chunk_lines])
    return batches


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(1, 8))
def test_chart_of_prepared_chunks_is_the_chart_of_the_events(events, chunk_lines):
    batches = _prepared_batches(events, chunk_lines, mermaid.prepare_chunk, mermaid.unpack_chunk)
    assert b"".join(render_mermaid(batches, warn=list)) == b"".join(render_mermaid([events], warn=list))


@settings(max_examples=300, deadline=None)
@given(st.lists(argvs, min_size=1, max_size=5))
def test_labels_of_many_command_lines_at_once_are_those_of_each(cmdlines):
    # the JSON text of each cmdline as the line holds it: {"Exec":{..., "cmdline":[...]}}
    texts = [to_json(Exec(1, 2, 1, 2, cmdline)).encode()[:-2].split(b'"cmdline":', 1)[1] for cmdline in cmdlines]
    labels = mermaid._plain_commands(texts)
    if labels is not None:
        assert labels == [command_label(cmdline) for cmdline in cmdlines]


def test_plain_command_lines_are_labelled_at_once():
    texts = [b'["cc","-c","x.c"]', b'["/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname","a]"]',
             b'["' + b"y" * 120 + b'"]']
    assert mermaid._plain_commands(texts) == ["cc -c x.c", "<store>/dirname a]", command_label(["y" * 120])]
    assert mermaid._plain_commands([b'["a b"]']) is None and mermaid._plain_commands([b'["a",""]']) is None


@pytest.mark.parametrize("fmt", ["mermaid", "by-process"])
def test_pids_beyond_64_bits_are_rendered_too(fmt, tmp_path, capsys):
    events = [Fork(1, 1, 2**70, 1), Exec(2, 2**70, 1, 2**70, ("a",)), Exit(3, 2**70, 1, 2**70)]
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(to_json(event).encode() + b"\n" for event in events))
    assert main(["render", "-f", fmt, "-i", str(path)]) == 0
    renderer = mermaid if fmt == "mermaid" else by_process  # mermaid's prepare_chunk declines them
    assert capsys.readouterr().out == b"".join(renderer.render([events], warn=list)).decode()


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(1, 8))
def test_groups_of_prepared_chunks_are_the_groups_of_the_events(events, chunk_lines):
    batches = _prepared_batches(events, chunk_lines, by_process.prepare_chunk, by_process.unpack_chunk)
    assert b"".join(by_process.render(batches, warn=list)) == b"".join(by_process.render([events], warn=list))


@given(st.permutations(range(6)))
def test_a_chunk_is_put_in_order_where_it_is_read(order):
    events = [Fork(10 + i, 1, 2 + i, 1) for i in range(6)]
    body = b"".join(to_json(events[i]).encode() + b"\n" for i in order)
    keys, lines = by_process.unpack_chunk(body, by_process.prepare_chunk(body))
    assert keys == list(range(10, 16)) and lines == [to_json(event).encode() for event in events]
