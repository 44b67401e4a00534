"""The parser's holding of busy epochs (what `record` asks for): the same events, later, none lost."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.events import Fork, Lost, ParseError
from proctrace.record import parse
from proctrace.record.markers import End, Final, Garbled, Message, Tick
from proctrace.record.parse import QUIET_ENTRIES, parse_batches
from test_record_parse import dump, entry


def epoch_of_forks(epoch, count):
    """The dump of an epoch with `count` Forks (more than QUIET_ENTRIES: a busy one)."""
    return dump(epoch, [entry(epoch, epoch * 1000 + i, 10 + i, 1, values=(1, 1)) for i in range(count)])


def forks(epoch, count):
    return [Fork(epoch * 1000 + i, 1, 10 + i, 1) for i in range(count)]


def per_line(lines, **options):
    """The items parse_batches gives for each line of `lines` (fed a line a batch) as it reads
    it, Ticks left out: one list a line, and a last one for what comes at the end of the input."""
    out = [[] for _ in range(len(lines) + 1)]
    read = [0]

    def feed():
        for number, line in enumerate(lines):
            read[0] = number
            yield [line]
        read[0] = len(lines)

    for batch in parse_batches(feed(), **options):
        out[read[0]].extend(item for item in batch if not isinstance(item, Tick))
    return out


def items(lines, **options):
    return [item for batch in parse_batches(([line] for line in lines), **options) for item in batch
            if not isinstance(item, Tick)]


BUSY = QUIET_ENTRIES + 1


def test_a_busy_epoch_comes_out_with_the_next_quiet_one_in_order():
    lines = epoch_of_forks(0, BUSY) + epoch_of_forks(1, 2)
    out = per_line(lines, hold=True)
    assert out[len(lines) - 1] == forks(0, BUSY) + forks(1, 2)
    assert sum(map(len, out)) == BUSY + 2


def test_without_hold_a_busy_epoch_comes_out_at_once():
    lines = epoch_of_forks(0, BUSY)
    assert per_line(lines)[len(lines) - 1] == forks(0, BUSY)


def test_a_quiet_epoch_is_not_held():
    lines = epoch_of_forks(0, QUIET_ENTRIES)
    assert per_line(lines, hold=True)[len(lines) - 1] == forks(0, QUIET_ENTRIES)


def test_held_epochs_come_out_at_the_end_before_the_end_marker():
    lines = epoch_of_forks(0, BUSY) + epoch_of_forks(1, BUSY) + [b"PT_END 5 1"]
    out = per_line(lines, hold=True)
    assert out[-1] == forks(0, BUSY) + forks(1, BUSY) + [End(5)]
    assert sum(map(len, out)) == 2 * BUSY + 1


def test_held_epochs_come_out_an_epoch_a_batch_so_that_one_is_in_memory_at_a_time():
    lines = epoch_of_forks(0, BUSY) + epoch_of_forks(1, BUSY) + epoch_of_forks(2, 1)
    batches = [[e for e in batch if not isinstance(e, Tick)] for batch in parse_batches([lines], hold=True)]
    assert [batch for batch in batches if batch] == [forks(0, BUSY), forks(1, BUSY), forks(2, 1)]


def test_while_bpftrace_runs_a_backlog_comes_out_a_little_at_every_batch(monkeypatch):
    # so that reading it does not keep record from reading bpftrace, whose maps would fill
    monkeypatch.setattr(parse, "RELEASE_EVENTS", 1)
    lines = (epoch_of_forks(0, BUSY) + [b"Lost 3 events"] + epoch_of_forks(1, BUSY) + epoch_of_forks(2, 1)
             + [b"something bpftrace said"] * 3)
    out = per_line(lines, hold=True)
    quiet, said = len(lines) - 4, Message("something bpftrace said")
    assert out[quiet] == forks(0, BUSY)
    assert out[quiet + 1] == [said, Lost(BUSY - 1, 3)] + forks(1, BUSY)   # a Lost line is no work
    assert out[quiet + 2] == [said] + forks(2, 1)
    assert out[quiet + 3] == [said] and out[-1] == []


def test_held_epochs_come_out_after_the_final_marker_once_the_input_ends():
    # the recorder stops bpftrace at PT_FINAL; the held epochs are read while it is torn down
    lines = epoch_of_forks(0, BUSY) + [b"PT_FINAL 0"]
    out = per_line(lines, hold=True)
    assert out[len(lines) - 1] == [Final(0)] and out[-1] == forks(0, BUSY)


def test_a_lost_line_waits_behind_the_held_epochs_and_takes_their_newest_time():
    lines = epoch_of_forks(3, BUSY) + [b"Lost 7 events"]
    out = per_line(lines, hold=True)
    assert out[-1] == forks(3, BUSY) + [Lost(3000 + BUSY - 1, 7)]
    assert sum(map(len, out)) == BUSY + 1


def test_a_tree_busy_for_long_is_read_once_so_much_is_held(monkeypatch):
    lines = epoch_of_forks(0, BUSY) + epoch_of_forks(1, BUSY)
    size = sum(len(line) for line in lines if line.startswith(b"@m"))
    monkeypatch.setattr(parse, "HOLD_BYTES", size - 1)   # both epochs are more than that; one is not
    out = per_line(lines, hold=True)
    assert out[len(lines) - 1] == forks(0, BUSY) + forks(1, BUSY)


def test_an_unreadable_held_line_is_reported_with_its_own_number():
    lines = epoch_of_forks(0, BUSY)
    lines[5] = b"@m0[1, 2]: (0)"
    with pytest.raises(ParseError, match=r"^bpftrace:6: malformed map entry"):
        items(lines, hold=True)
    got = items(lines, strict=False, hold=True)
    assert isinstance(got[0], Garbled) and got[0].lineno == 6
    # the Fork on that line is missing, and counted as lost; the others are all there
    assert got[1:] == [f for f in forks(0, BUSY) if f.timestamp != 4] + [Lost(BUSY - 1, 1)]


def test_a_dump_cut_short_gives_what_it_printed_and_says_it_was_cut():
    # the counts come after a dump's entries: the only count of epoch 1 is the one of an earlier dump
    lines = dump(0, [entry(0, 1, 10, 1, values=(1, 1))]) + [b"@n[1, 2]: 1", b"@n[1, 0]: 2"]
    lines += epoch_of_forks(1, 5)[:-3]
    with pytest.raises(ParseError, match=r"^bpftrace:13: bpftrace stopped while it printed epoch 1"):
        items(lines)
    for hold in (False, True):
        got = items(lines, strict=False, hold=hold)
        assert got[:-1] == [Fork(1, 1, 10, 1)] + forks(1, 5)
        assert isinstance(got[-1], Garbled) and "epoch 1" in got[-1].reason


def test_the_maps_printed_at_exit_after_a_cut_dump_are_read():
    # bpftrace interrupted between PT_DUMP and PT_DUMPED: PT_END ends the dump, and what it
    # prints of its maps as it exits belongs to their own epochs
    lines = [b"@n[0, 2]: 1", b"PT_DUMP 0", entry(0, 100, 4, 1, values=(1, 1)), b"PT_END 999 1",
             entry(1, 200, 5, 1, values=(1, 1)), b"@n[0, 0]: 1", b"@n[1, 2]: 1", b"@n[1, 0]: 1"]
    got = items(lines, strict=False, hold=True)
    assert got[0] == Fork(100, 1, 4, 1) and isinstance(got[1], Garbled)
    assert got[2:] == [Fork(200, 1, 5, 1), End(999)]


sizes = st.lists(st.integers(0, 3 * QUIET_ENTRIES), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(sizes=sizes, lost_after=st.sets(st.integers(0, 7)), end=st.booleans())
def test_holding_changes_when_events_come_out_never_which(sizes, lost_after, end):
    lines = []
    for epoch, count in enumerate(sizes):
        lines += epoch_of_forks(epoch, count)
        if epoch in lost_after:
            lines.append(b"Lost 2 events")
    if end:
        lines.append(b"PT_END 99999 %d" % (len(sizes) - 1))
    held, live = per_line(lines, hold=True), per_line(lines)
    assert [item for batch in held for item in batch] == [item for batch in live for item in batch]
    # an event comes out no earlier than it would have, and no later than the next quiet epoch
    seen_live = {item: n for n, batch in enumerate(live) for item in batch}
    seen_held = {item: n for n, batch in enumerate(held) for item in batch}
    dumped = [n for n, line in enumerate(lines) if line.startswith(b"PT_DUMPED")]
    for epoch, count in enumerate(sizes):
        later_quiet = [dumped[e] for e in range(epoch, len(sizes)) if sizes[e] <= QUIET_ENTRIES]
        for fork in forks(epoch, count):
            assert seen_live[fork] <= seen_held[fork]
            if later_quiet:
                assert seen_held[fork] <= later_quiet[0]
