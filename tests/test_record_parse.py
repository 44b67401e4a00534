"""The bpftrace line parser of `record`: real captured lines, line-level cases, properties."""

import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID
from proctrace.record import script_text
from proctrace.record.parse import (
    ARGV_CHUNKS, ARGV_LIMIT, CHUNK_BYTES, FILENAME_CHUNKS, Begin, End, Garbled, Message,
    decode_wait_status, parse_batches, parse_lines,
)

SESSION = Path(__file__).resolve().parent / "data" / "bpftrace" / "session.txt"


def _events(items):
    return [item for item in items if not isinstance(item, (Begin, End, Message))]


def test_captured_session():
    items = list(parse_lines(SESSION.read_bytes().splitlines(keepends=True)))
    assert items[0] == Message("Attaching 8 probes...")
    assert isinstance(items[1], Begin)
    assert isinstance(items[-1], End)
    events = _events(items)
    root = items[1].root
    execs = {e.pid: e for e in events if isinstance(e, Exec)}
    assert execs[root].cmdline[0] == "sh" and execs[root].filename == "/usr/bin/sh"
    echo = next(e for e in events if isinstance(e, Exec) and e.cmdline[0] == "/bin/echo")
    assert echo.cmdline == ("/bin/echo", "", "two words", "it's", "new\nline", "a:b#c;d",
                            "caf\u00e9 \udcff\udcfe")
    assert echo.filename == "/bin/echo" and not echo.cmdline_truncated
    setsid = next(e for e in events if isinstance(e, SetSID))
    assert setsid.sid == setsid.pgid == setsid.pid
    after = [e for e in events if isinstance(e, Exec) and e.pid == setsid.pid]
    assert [e.cmdline for e in after] == [("setsid", "/bin/true"), ("/bin/true",)]
    assert after[1].sid == setsid.pid and after[0].sid != setsid.pid
    setpgid = next(e for e in events if isinstance(e, SetPGID))
    assert setpgid.pgid == setpgid.pid and setpgid.ppid == root
    exits = {e.pid: e for e in events if isinstance(e, Exit)}
    assert exits[setpgid.pid].pgid == setpgid.pid
    by_argv = {e.cmdline: e.pid for e in events if isinstance(e, Exec)}
    assert (exits[by_argv[("sh", "-c", "exit 3")]].exit_code, exits[by_argv[("sh", "-c", "exit 3")]].signal) == (3, None)
    killed = exits[by_argv[("sh", "-c", "kill -KILL $$")]]
    assert (killed.exit_code, killed.signal) == (None, 9)
    assert ("/bin/true", "x" * 5000, "y" * 700) in by_argv
    assert (exits[root].exit_code, exits[root].signal) == (5, None)
    # the python3 thread is not a process: every Fork's child is an exec'd or exiting process
    forked = {e.child_pid for e in events if isinstance(e, Fork)}
    assert forked <= set(exits)
    assert len([e for e in events if isinstance(e, Fork)]) == len(exits) - 1  # the root was not forked here


def test_captured_session_arrives_out_of_order():
    # bpftrace reads its per-CPU buffers in turn: why record sorts
    events = _events(parse_lines(SESSION.read_bytes().splitlines()))
    stamps = [e.timestamp for e in events]
    assert stamps != sorted(stamps)


@pytest.mark.parametrize("line, expected", [
    (b"F 100 10 11 10", Fork(100, 10, 11, 10)),
    (b"X 200 11 10 10 9 0\n", Exit(200, 11, 10, 10, sid=9, exit_code=0, signal=None)),
    (b"X 200 11 10 10 9 768", Exit(200, 11, 10, 10, sid=9, exit_code=3, signal=None)),
    (b"X 200 11 10 10 9 9", Exit(200, 11, 10, 10, sid=9, exit_code=None, signal=9)),
    (b"X 200 11 10 10 9 134", Exit(200, 11, 10, 10, sid=9, exit_code=None, signal=6)),  # core dumped
    (b"S 300 11 10 11 11", SetSID(300, 11, 10, 11, 11)),
    (b"G 400 12 11 12", SetPGID(400, 12, 11, 12)),
    (b"PT_BEGIN 5 77", Begin(5, 77)),
    (b"PT_END 6", End(6)),
    (b"Attaching 8 probes...", Message("Attaching 8 probes...")),
])
def test_line(line, expected):
    assert list(parse_lines([line])) == [expected]


@pytest.mark.parametrize("code, expected", [(0, (0, None)), (256, (1, None)), (0xFF00, (255, None)),
                                            (15, (None, 15)), (0x8B, (None, 11))])
def test_decode_wait_status(code, expected):
    assert decode_wait_status(code) == expected


@pytest.mark.parametrize("line", [b"F 1 2 3", b"F 1 2 3 4 5", b"X a b c d e f", b"F -1 2 3 4",
                                  b"A 12 0 \\x4", b"A 12 0 zz", b"PT_BEGIN x 1", b"E 1 2 3 4 5 6"])
def test_malformed_lines_raise_parse_error(line):
    with pytest.raises(ParseError, match=r"^bpftrace:1: "):
        list(parse_lines([line]))


def test_malformed_line_is_garbled_when_not_strict():
    items = list(parse_lines([b"F 1 2", b"F 1 2 3 4"], strict=False))
    assert isinstance(items[0], Garbled) and items[0].lineno == 1
    assert items[1] == Fork(1, 2, 3, 4)


def test_lost_events_take_the_newest_time_seen():
    items = list(parse_lines([b"F 100 1 2 1", b"F 50 1 3 1", b"Lost 7 events"]))
    assert items[-1] == Lost(100, 7)


def _hex(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in data)


def format_exec(ts, pid, ppid, pgid, sid, argv, filename):
    """The lines proctrace.bt prints for one exec (header, filename chunks, argv chunks)."""
    data = b"".join(arg + b"\0" for arg in argv)
    name = filename + b"\0"
    lines = [b"E %d %d %d %d %d %d %d" % (ts, pid, ppid, pgid, sid, len(data), len(name))]
    for kind, blob, limit in ((b"N", name, CHUNK_BYTES * FILENAME_CHUNKS), (b"A", data, ARGV_LIMIT)):
        blob = blob[:limit]
        for index in range(0, len(blob), CHUNK_BYTES):
            lines.append(b"%s %d %d %s" % (kind, pid, index // CHUNK_BYTES, _hex(blob[index:index + CHUNK_BYTES])))
    return lines


def _expected_exec(ts, pid, ppid, pgid, sid, argv, filename):
    data = b"".join(arg + b"\0" for arg in argv)
    truncated = len(data) > ARGV_LIMIT
    kept = data[:ARGV_LIMIT]
    parts = kept.split(b"\0")
    if kept.endswith(b"\0") or not kept:
        parts.pop()
    return Exec(ts, pid, ppid, pgid, tuple(p.decode("utf-8", "surrogateescape") for p in parts),
                filename=filename.decode("utf-8", "surrogateescape"), sid=sid, cmdline_truncated=truncated)


argvs = st.lists(st.binary(max_size=500).map(lambda b: b.replace(b"\0", b"")), max_size=30)
names = st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\0", b"") or b"x")
pids = st.integers(1, 4_000_000)


@settings(max_examples=150, deadline=None)
@given(argv=argvs, filename=names, pid=pids, other=argvs, ts=st.integers(0, 2**63))
@example(argv=[], filename=b"/bin/true", pid=1, other=[], ts=0)
@example(argv=[b""], filename=b"/", pid=2, other=[b"a"], ts=1)
@example(argv=[b"x" * 199], filename=b"y" * 199, pid=3, other=[], ts=2)
@example(argv=[b"x" * 200], filename=b"y" * 200, pid=4, other=[], ts=3)
def test_formatted_exec_lines_round_trip(argv, filename, pid, other, ts):
    mine = format_exec(ts, pid, 1, 1, 1, argv, filename)
    theirs = format_exec(ts + 1, pid + 1, 1, 1, 1, other, b"/other")
    # another CPU's exec interleaved line by line with this one
    lines = [line for pair in zip(mine, theirs) for line in pair] + mine[len(theirs):] + theirs[len(mine):]
    events = list(parse_lines(lines))
    assert _expected_exec(ts, pid, 1, 1, 1, argv, filename) in events
    assert _expected_exec(ts + 1, pid + 1, 1, 1, 1, other, b"/other") in events
    assert len(events) == 2


def test_argv_beyond_the_limit_is_marked_truncated():
    argv = [b"/bin/true"] + [b"a" * 999 for _ in range(ARGV_LIMIT // 1000 + 1)]
    (event,) = parse_lines(format_exec(1, 2, 3, 4, 5, argv, b"/bin/true"))
    assert event.cmdline_truncated
    assert "\0".join(event.cmdline).encode() == b"\0".join(argv)[:ARGV_LIMIT]


def test_exec_missing_chunks_is_flushed_truncated_at_the_end():
    lines = format_exec(1, 2, 3, 4, 5, [b"a" * 300, b"b" * 300], b"/bin/x")
    del lines[3]  # the second argv chunk was lost
    batches = list(parse_batches([lines]))
    assert batches[0] == []
    (event,) = batches[-1]
    assert event.cmdline == ("a" * 200,) and event.cmdline_truncated


def test_second_exec_of_a_pid_gives_up_on_an_incomplete_first():
    first = format_exec(1, 2, 3, 4, 5, [b"a" * 300], b"/bin/a")[:-1]
    second = format_exec(9, 2, 3, 4, 5, [b"b"], b"/bin/b")
    events = list(parse_lines(first + second))
    assert [(e.timestamp, e.cmdline_truncated) for e in events] == [(1, True), (9, False)]


def test_chunks_without_a_header_are_dropped():
    assert list(parse_lines([b"A 5 0 \\x61\\x00"])) == []


@settings(max_examples=300)
@given(st.lists(st.text(max_size=80)))
@example(["A 1 0 \\x6"])
@example(["E 1 2 3 4 5 6 7", "N 2 0 "])
def test_arbitrary_text_raises_nothing_but_parse_error(lines):
    try:
        list(parse_lines([line.encode("utf-8", "surrogateescape") for line in lines]))
    except ParseError:
        pass


def test_script_and_parser_agree_on_the_chunk_layout():
    script = script_text()
    assert f"while ($i < {ARGV_CHUNKS})" in script
    assert f"while ($i < {FILENAME_CHUNKS})" in script
    assert len(re.findall(rf"buf\(uptr\(\$[sf] \+ \$i \* {CHUNK_BYTES}\), {CHUNK_BYTES}\)", script)) == 2
    assert f"{ARGV_LIMIT} bytes" in script.replace(",", "") or str(ARGV_LIMIT) in script
