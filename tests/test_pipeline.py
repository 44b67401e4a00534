"""The chains the pipeline builds: legacy lines at chunk edges, in a file big enough for the helper."""

import json

import pytest

from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, to_json
from proctrace.parallel import MIN_SIZE
from proctrace.reader import CHUNK_SIZE

FILLER_PID = 7


def _filler(ts, size):
    """An Exec line of the filler process, newline included, of exactly `size` bytes."""
    base = len(to_json(Exec(ts, FILLER_PID, 1, 1, ("",)))) + 1
    line = to_json(Exec(ts, FILLER_PID, 1, 1, ("x" * (size - base),))) + "\n"
    assert len(line) == size
    return line


def _straddling_recording():
    """Lines in which every chunk boundary falls between an Exec with an empty
    cmdline and the original's ExecArgs that fills it in."""
    out, size, ts = [], 0, 1

    def add(line):
        nonlocal size, ts
        out.append(line)
        size += len(line.encode())
        ts += 1

    add(to_json(Fork(0, 1, FILLER_PID, 1)) + "\n")
    boundary, pid = CHUNK_SIZE, 100
    while size < MIN_SIZE + 2 * CHUNK_SIZE:
        add(to_json(Fork(ts, 1, pid, 1)) + "\n")
        exec_ts = ts + 10_000  # later than every filler before it
        empty = to_json(Exec(exec_ts, pid, 1, pid, ())) + "\n"
        while boundary - size - len(empty) > 2500:
            add(_filler(ts, 2000))
        add(_filler(ts, boundary - size - len(empty)))
        ts = exec_ts
        add(empty)
        assert size == boundary
        add('{"ExecArgs":{"timestamp":%d,"pid":%d,"args":"cc -c file%d.c"}}\n' % (exec_ts, pid, pid))
        add(to_json(Exit(ts, pid, 1, pid, None, 0, None)) + "\n")
        boundary += CHUNK_SIZE
        pid += 1
    add(to_json(Exit(ts, FILLER_PID, 1, 1, None, 0, None)) + "\n")
    return "".join(out).encode(), list(range(100, pid))


@pytest.fixture(scope="module")
def straddling(tmp_path_factory):
    data, pids = _straddling_recording()
    path = tmp_path_factory.mktemp("big") / "straddling.jsonl"
    path.write_bytes(data)
    assert path.stat().st_size > MIN_SIZE  # read with the helper process
    return path, pids


@pytest.mark.parametrize("fmt", ["multiplexed", "by-process"])
def test_execargs_at_a_chunk_edge_fill_the_exec_in_line_formats(fmt, straddling, tmp_path, capsys):
    # issue 11: multiplexed wrote "cmdline":[] when the pair straddled a 256 KiB chunk edge
    path, pids = straddling
    out = tmp_path / "out"
    assert main(["render", "-f", fmt, "-i", str(path), "-o", str(out)]) == 0
    execs = {}
    for line in out.read_bytes().splitlines():
        if line.startswith(b'{"Exec"'):
            event = json.loads(line)["Exec"]
            execs[event["pid"]] = event["cmdline"]
    assert {pid: execs[pid] for pid in pids} == {pid: ["cc", "-c", f"file{pid}.c"] for pid in pids}


def test_execargs_at_a_chunk_edge_fill_the_exec_in_the_model(straddling, tmp_path, capsys):
    path, pids = straddling
    out = tmp_path / "out"
    assert main(["render", "-f", "mermaid", "--all", "-i", str(path), "-o", str(out)]) == 0
    text = out.read_text()
    for pid in pids:
        assert f"#99;c -c file{pid}.c (pid {pid}," in text  # (a label's first letter is an entity)


def test_an_execs_legacy_records_split_across_batches_all_complete_it():
    # the original's Exec, ExecArgs, ExecFilename, cut by a chunk boundary after the ExecArgs
    from proctrace.events import ExecArgs, ExecFilename
    from proctrace.pipeline import _merged
    warnings = []
    batches = [[Fork(1, 1, 2, 1), Exec(2, 2, 1, 2, ()), ExecArgs(2, 2, "cc -c x.c")],
               [ExecFilename(2, 2, "/usr/bin/cc"), Exit(3, 2, 1, 2, exit_code=0)]]
    events = [event for batch in _merged(batches, warnings.append) for event in batch]
    assert [type(event) for event in events] == [Fork, Exec, Exit]
    assert (events[1].cmdline, events[1].filename) == (("cc", "-c", "x.c"), "/usr/bin/cc")
    assert warnings == []
