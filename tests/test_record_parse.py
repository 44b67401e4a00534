"""The bpftrace line parser of `record`: real captured lines, line-level cases, properties."""

import struct
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID
from proctrace.record.markers import Begin, CutShort, End, Final, Garbled, Message, Tick
from proctrace.record.parse import (
    ARGV_CHUNKS, ARGV_LIMIT, CHUNK_BYTES, FILENAME_CHUNKS, SLOTS, decode_wait_status, parse_batches,
)
from proctrace.record.script import CHUNK_WORDS, PACKED_ARGV_WORDS, PACKED_NAME_WORDS

SESSION = Path(__file__).resolve().parent / "data" / "bpftrace" / "session.txt"
WORDS = struct.Struct(f"<{CHUNK_WORDS}Q")


def parse_lines(lines, **options):
    """The items parse_batches makes of `lines`, a batch a line, as record reads them."""
    return [item for batch in parse_batches(([line] for line in lines), **options) for item in batch]


def _parsed(lines, **options):
    """The items parsed from `lines`, without the Tick markers."""
    return [item for item in parse_lines(lines, **options) if not isinstance(item, Tick)]


def _events(items):
    return [item for item in items if not isinstance(item, (Begin, End, Tick, Final, Message))]


def test_captured_session():
    items = _parsed(SESSION.read_bytes().splitlines(keepends=True))
    assert items[0] == Message("Attaching 9 probes...")
    assert isinstance(items[1], Begin)
    assert isinstance(items[-1], Final)  # what bpftrace printed after it is not read
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
    long_name = "/" + "bin/../" * 30 + "bin/true"
    assert execs[by_argv[(long_name, "a-long-filename")]].filename == long_name
    assert not any(e.cmdline_truncated for e in events if isinstance(e, Exec))
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)
    assert (exits[root].exit_code, exits[root].signal) == (5, None)
    # the python3 thread is not a process: every Fork's child is an exec'd or exiting process
    forked = {e.child_pid for e in events if isinstance(e, Fork)}
    assert forked <= set(exits)
    assert len([e for e in events if isinstance(e, Fork)]) == len(exits) - 1  # the root was not forked here


ZEROS = (0,) * CHUNK_WORDS


def entry(epoch, ts, pid, kind, index=0, values=()):
    """One @m entry as bpftrace prints it (slot chosen as proctrace.bt does)."""
    numbers = (tuple(values) + ZEROS)[:CHUNK_WORDS]
    return b"@m%d[%d, %d, %d, %d]: (%s)" % (epoch % SLOTS, ts, pid, kind, index,
                                             ", ".join(str(n) for n in (epoch,) + numbers).encode())


def chunk(epoch, ts, pid, kind, index, data):
    """One @c entry (a whole 128-byte chunk) as bpftrace prints it."""
    words = b",".join(b"%d" % word for word in WORDS.unpack(data))
    return b"@c%d[%d, %d, %d, %d, %d]: { .w = [%s] }" % (epoch % SLOTS, ts, pid, kind, index, epoch, words)


def dump(epoch, entries, events=None):
    """The lines of one epoch's dump, with the counts the script would have kept."""
    heads = [line for line in entries if line.startswith(b"@m") and int(line.split(b", ")[2]) in (1, 2, 7, 8, 9)]
    count = len(heads) if events is None else events
    counts = [b"@n[%d, 2]: 1" % epoch]
    if count:
        counts.append(b"@n[%d, 0]: %d" % (epoch, count))
    return [b"PT_DUMP %d" % epoch, *entries, *counts, b"PT_DUMPED %d %d" % (epoch, 1000 + epoch)]


@pytest.mark.parametrize("line, expected", [
    (entry(0, 100, 11, 1, values=(10, 10)), Fork(100, 10, 11, 10)),
    (entry(0, 200, 11, 7, values=(10, 10, 9, 0)), Exit(200, 11, 10, 10, sid=9, exit_code=0, signal=None)),
    (entry(0, 200, 11, 7, values=(10, 10, 9, 768)), Exit(200, 11, 10, 10, sid=9, exit_code=3, signal=None)),
    (entry(0, 200, 11, 7, values=(10, 10, 9, 9)), Exit(200, 11, 10, 10, sid=9, exit_code=None, signal=9)),
    (entry(0, 200, 11, 7, values=(10, 10, 9, 134)), Exit(200, 11, 10, 10, sid=9, exit_code=None, signal=6)),
    (entry(0, 300, 11, 8, values=(10, 11, 11)), SetSID(300, 11, 10, 11, 11)),
    (entry(0, 400, 12, 9, values=(11, 12)), SetPGID(400, 12, 11, 12)),
])
def test_event_entry(line, expected):
    assert _parsed(dump(0, [line])) == [expected]


def test_an_exit_brings_its_fork_when_the_fork_was_in_its_epoch():
    # the Exit's numbers, then the Fork's time, parent and parent's group (the Fork's entry was taken in)
    folded = entry(0, 200, 11, 7, values=(10, 12, 9, 0, 150, 10, 10))
    other = entry(0, 170, 30, 8, values=(29, 30, 30))
    assert _parsed(dump(0, [folded, other], events=3)) == [
        Fork(150, 10, 11, 10), SetSID(170, 30, 29, 30, 30), Exit(200, 11, 10, 12, sid=9, exit_code=0, signal=None)]


def test_a_pid_used_twice_in_one_epoch_gives_each_process_its_own_fork():
    first = entry(0, 200, 11, 7, values=(10, 10, 9, 0, 150, 10, 10))
    second = entry(0, 400, 11, 7, values=(10, 10, 9, 256, 300, 10, 10))
    assert _parsed(dump(0, [second, first], events=4)) == [
        Fork(150, 10, 11, 10), Exit(200, 11, 10, 10, sid=9, exit_code=0, signal=None),
        Fork(300, 10, 11, 10), Exit(400, 11, 10, 10, sid=9, exit_code=1, signal=None)]


def test_a_fork_carried_twice_or_also_printed_is_one_fork():
    # two threads that end at once may both write the Exit, each carrying the Fork
    fork = entry(0, 150, 11, 1, values=(10, 10))
    exits = [entry(0, ts, 11, 7, values=(10, 10, 9, 0, 150, 10, 10)) for ts in (200, 201)]
    parsed = _parsed(dump(0, [fork, *exits], events=3))
    assert [type(item) for item in parsed] == [Fork, Exit, Exit]
    assert parsed[0] == Fork(150, 10, 11, 10)


@pytest.mark.parametrize("line, expected", [
    (b"PT_BEGIN 5 77", Begin(5, 77)),
    (b"PT_FINAL 3", Final(3)),
    (b"Attaching 9 probes...", Message("Attaching 9 probes...")),
])
def test_marker_line(line, expected):
    assert list(parse_lines([line])) == [expected]


@pytest.mark.parametrize("code, expected", [(0, (0, None)), (256, (1, None)), (0xFF00, (255, None)),
                                            (15, (None, 15)), (0x8B, (None, 11))])
def test_decode_wait_status(code, expected):
    assert decode_wait_status(code) == expected


@pytest.mark.parametrize("line", [
    b"@m0[1, 2, 1, 0]: (0, 1, 2)", b"@m0[1, 2, 10, 0]: (0" + b", 0" * 16 + b")",
    b"@m2[1, 2, 1, 0]: (0" + b", 0" * 16 + b")", b"@m0[1, 2, 1, 0]: (0, -1" + b", 0" * 15 + b")",
    b"@c0[1, 2, 3, 0, 0]: { .w = [1,2] }", b"@c0[1, 2, 7, 0, 0]: { .w = [" + b",".join([b"0"] * 16) + b"] }",
    b"@c0[1, 2, 3, 0, 0]: { .w = [" + b",".join([b"0"] * 15 + [b"%d" % 2**64]) + b"] }",
    b"@n[1, x]: 3", b"PT_BEGIN x 1", b"PT_END 1", b"PT_DUMP x", b"PT_DUMPED 3 5", b"PT_DUMPED 3",
    b"PT_FINAL", b"PT_FINAL -1",
])
def test_malformed_lines_raise_parse_error(line):
    with pytest.raises(ParseError, match=r"^bpftrace:1: "):
        _parsed([line])


def test_malformed_line_is_garbled_when_not_strict():
    items = _parsed([b"@m0[1, 2]: (0)", *dump(0, [entry(0, 1, 3, 1, values=(2, 4))])], strict=False)
    assert isinstance(items[0], Garbled) and items[0].lineno == 1
    assert items[1] == Fork(1, 2, 3, 4)


def test_events_come_out_in_time_order_when_their_epoch_is_complete():
    lines = dump(0, [entry(0, 300, 4, 7, values=(1, 1, 1, 0)), entry(0, 100, 4, 1, values=(1, 1))])
    batches = list(parse_batches([lines[:-1], lines[-1:]]))
    assert batches[0] == []
    assert batches[1] == [Fork(100, 1, 4, 1), Exit(300, 4, 1, 1, sid=1, exit_code=0, signal=None), Tick(1000)]


def test_events_missing_from_their_epoch_are_reported_lost():
    lines = dump(3, [entry(3, 100, 4, 1, values=(1, 1))], events=4)
    assert _parsed(lines) == [Fork(100, 1, 4, 1), Lost(100, 3)]


def test_a_map_read_after_reuse_shows_a_later_epoch_which_is_not_this_one():
    # epoch 5 reuses slot 1: its entries are printed in their own dump, not epoch 1's
    late = entry(5, 900, 4, 1, values=(1, 1))
    lines = dump(1, [late], events=2) + dump(5, [late])
    assert _parsed(lines) == [Lost(0, 2), Fork(900, 1, 4, 1)]


def test_bpftrace_lost_events_take_the_newest_time_seen():
    items = _parsed(dump(0, [entry(0, 100, 2, 1, values=(1, 1))]) + [b"Lost 7 events"])
    assert items[-1] == Lost(100, 7)


def test_the_maps_printed_at_exit_give_the_last_epochs_and_end_comes_last():
    lines = dump(0, [entry(0, 100, 4, 1, values=(1, 1))]) + [
        b"PT_END 999 2",
        entry(0, 100, 4, 1, values=(1, 1)),            # epoch 0 again: already done
        entry(2, 300, 4, 7, values=(1, 1, 1, 0)),
        entry(1, 200, 5, 1, values=(1, 1)),
        b"@n[1, 0]: 1", b"@n[1, 2]: 1", b"@n[2, 0]: 1", b"@n[2, 2]: 1",
    ]
    assert _parsed(lines) == [
        Fork(100, 1, 4, 1), Fork(200, 1, 5, 1), Exit(300, 4, 1, 1, sid=1, exit_code=0, signal=None), End(999)]


def test_an_epoch_that_cannot_be_checked_is_reported():
    lines = [b"PT_END 999 1", entry(1, 200, 5, 1, values=(1, 1)), b"@n[1, 0]: 1", b"@n[1, 2]: 1"]
    with pytest.raises(ParseError, match="the count of epoch 0 was not read in time"):
        _parsed(lines)
    items = _parsed(lines, strict=False)
    assert isinstance(items[0], Garbled) and items[1:] == [Fork(200, 1, 5, 1), End(999)]


def test_after_final_only_losses_and_messages_are_read():
    # issue 14: bpftrace is stopped once the root's epoch is told; what it
    # printed of later epochs (an orphan's events) is not part of the recording
    lines = (dump(0, [entry(0, 100, 4, 7, values=(1, 1, 1, 0))]) + [b"PT_FINAL 0"]
             + dump(1, [entry(1, 200, 5, 1, values=(1, 1))], events=3)
             + [b"@n[2, 2]: 1", b"@n[2, 0]: 4", b"Lost 2 events", b"ERROR: something", b"PT_END 999 2"])
    assert _parsed(lines) == [Exit(100, 4, 1, 1, sid=1, exit_code=0, signal=None), Final(0), Lost(100, 2),
                              Message("ERROR: something")]


def region_entries(epoch, ts, pid, data, kind, limit):
    """What proctrace.bt writes for an argv or filename: whole chunks in @c, the rest zero-filled in @m."""
    data = data[:limit * CHUNK_BYTES]
    whole = len(data) // CHUNK_BYTES
    out = [chunk(epoch, ts, pid, kind, i, data[i * CHUNK_BYTES:(i + 1) * CHUNK_BYTES]) for i in range(whole)]
    rest = data[whole * CHUNK_BYTES:]
    if rest:
        out.append(entry(epoch, ts, pid, kind, whole, WORDS.unpack(rest.ljust(CHUNK_BYTES, b"\0"))))
    return out


def format_exec(epoch, ts, pid, ppid, pgid, sid, argv, filename):
    """The map entries that proctrace.bt writes for one exec: one when its argv and filename are
    short enough to go in the Exec's own entry, else the Exec's and their chunks."""
    data = b"".join(arg + b"\0" for arg in argv)
    name = filename + b"\0"
    numbers = (ppid, pgid, sid, len(data), len(name))
    if len(data) <= 8 * PACKED_ARGV_WORDS and len(name) <= 8 * PACKED_NAME_WORDS:
        words = (struct.unpack(f"<{PACKED_ARGV_WORDS}Q", data.ljust(8 * PACKED_ARGV_WORDS, b"\0"))
                 + struct.unpack(f"<{PACKED_NAME_WORDS}Q", name.ljust(8 * PACKED_NAME_WORDS, b"\0")))
        return [entry(epoch, ts, pid, 2, 0, numbers + words)]
    return ([entry(epoch, ts, pid, 2, 0, numbers)]
            + region_entries(epoch, ts, pid, data, 3, ARGV_CHUNKS)
            + region_entries(epoch, ts, pid, name, 5, FILENAME_CHUNKS))


def _expected_exec(ts, pid, ppid, pgid, sid, argv, filename):
    data = b"".join(arg + b"\0" for arg in argv)
    truncated = len(data) > ARGV_LIMIT
    kept = data[:ARGV_LIMIT]
    parts = kept.split(b"\0")
    if kept.endswith(b"\0") or not kept:
        parts.pop()
    return Exec(ts, pid, ppid, pgid, tuple(p.decode("utf-8", "surrogateescape") for p in parts),
                filename=filename.decode("utf-8", "surrogateescape"), sid=sid, cmdline_truncated=truncated)


argvs = st.lists(st.binary(max_size=500).map(lambda b: b.replace(b"\0", b"")), max_size=12)
names = st.binary(min_size=1, max_size=400).map(lambda b: b.replace(b"\0", b"") or b"x")
pids = st.integers(1, 4_000_000)


@settings(max_examples=150, deadline=None)
@given(argv=argvs, filename=names, pid=pids, other=argvs, ts=st.integers(0, 2**62), data=st.data())
@example(argv=[], filename=b"/bin/true", pid=1, other=[], ts=0, data=None)
@example(argv=[b""], filename=b"/", pid=2, other=[b"a"], ts=1, data=None)
@example(argv=[b"x" * 126], filename=b"y" * 126, pid=3, other=[], ts=2, data=None)
@example(argv=[b"x" * 127], filename=b"y" * 127, pid=4, other=[b"z" * 255], ts=3, data=None)
@example(argv=[b"x" * 128], filename=b"y" * 255, pid=5, other=[b"z" * 383], ts=4, data=None)
@example(argv=[b"x" * 31], filename=b"y" * 23, pid=6, other=[b"z" * 32], ts=5, data=None)  # the longest packed
@example(argv=[b"x" * 31], filename=b"y" * 24, pid=7, other=[b"z" * 2], ts=6, data=None)   # a filename too long
def test_exec_round_trips_in_any_order(argv, filename, pid, other, ts, data):
    entries = (format_exec(7, ts, pid, 1, 1, 1, argv, filename)
               + format_exec(7, ts + 1, pid + 1, 1, 1, 1, other, b"/other"))
    if data is not None:
        entries = data.draw(st.permutations(entries))
    events = _parsed(dump(7, entries))
    assert events == [_expected_exec(ts, pid, 1, 1, 1, argv, filename),
                      _expected_exec(ts + 1, pid + 1, 1, 1, 1, other, b"/other")]


def test_argv_beyond_the_limit_is_marked_truncated():
    argv = [b"/bin/true"] + [b"a" * 999 for _ in range(ARGV_LIMIT // 1000 + 1)]
    (event,) = _parsed(dump(0, format_exec(0, 1, 2, 3, 4, 5, argv, b"/bin/true")))
    assert event.cmdline_truncated
    assert "\0".join(event.cmdline).encode() == b"\0".join(argv)[:ARGV_LIMIT]


def test_exec_missing_a_chunk_is_cut_at_the_gap_and_marked_truncated():
    entries = format_exec(0, 1, 2, 3, 4, 5, [b"a" * 200, b"b" * 100], b"/bin/x")
    assert entries[2].startswith(b"@c0[1, 2, 3, 1, ")
    del entries[2]  # the second argv chunk never arrived
    (event, cut) = _parsed(dump(0, entries))
    assert event.cmdline == ("a" * 128,) and event.cmdline_truncated
    assert event.filename == "/bin/x"
    assert cut == CutShort(2)  # for the recorder to report


def test_exec_missing_a_filename_chunk_has_no_filename_and_is_reported_cut():
    entries = format_exec(0, 1, 2, 3, 4, 5, [b"a" * 200], b"/" + b"d" * 200)
    chunk = [i for i, line in enumerate(entries) if line.startswith(b"@c0[1, 2, 5, 0, ")]
    assert len(chunk) == 1
    del entries[chunk[0]]
    (event, cut) = _parsed(dump(0, entries))
    assert event.cmdline == ("a" * 200,) and event.filename is None
    assert cut == CutShort(2)



def test_entries_without_their_exec_are_dropped_and_the_exec_counted_lost():
    entries = format_exec(0, 1, 2, 3, 4, 5, [b"a" * 60], b"/bin/x")
    assert len(entries) == 3
    assert _parsed(dump(0, entries[1:], events=1)) == [Lost(0, 1)]


def test_a_short_argv_and_filename_are_in_the_execs_own_entry():
    (only,) = format_exec(0, 1, 2, 3, 4, 5, [b"sed", b"-n", b"s/a/\xff/p"], b"/usr/bin/sed")
    (event,) = _parsed(dump(0, [only]))
    assert event == Exec(1, 2, 3, 4, ("sed", "-n", "s/a/\udcff/p"), filename="/usr/bin/sed", sid=5)


def test_a_map_value_beyond_64_bits_is_a_parse_error():
    # its words would be packed into bytes (an argv's)
    lines = dump(0, [entry(0, 1, 2, 2, 0, (3, 4, 5, 8, 2, 1 << 64))])
    with pytest.raises(ParseError, match="out of range"):
        _parsed(lines)


@settings(max_examples=300)
@given(st.lists(st.text(max_size=80)))
@example(["PT_DUMP 1", "PT_DUMP 2"])
@example(["@m0[1, 2, 2, 0]: (0" + ", 0" * 16 + ")", "PT_END 5 3"])
@example(["@c1[1, 2, 3, 0, 1]: { .w = [" + ",".join(["9"] * 16) + "] }", "PT_FINAL 0"])
def test_arbitrary_text_raises_nothing_but_parse_error(lines):
    try:
        _parsed([line.encode("utf-8", "surrogateescape") for line in lines])
    except ParseError:
        pass


def test_the_flag_of_a_map_being_freed_is_not_an_event():
    mark = b"@f1[0]: 1"
    lines = dump(0, []) + [mark] + dump(1, [entry(1, 100, 4, 1, values=(1, 1))]) + [b"PT_END 5 1", mark]
    assert _parsed(lines) == [Fork(100, 1, 4, 1), End(5)]
