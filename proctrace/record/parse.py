"""bpftrace's raw output lines -> proctrace events (plus a few control markers).

proctrace.bt keeps events, and every argv, in BPF maps and has bpftrace
print them an epoch (100 ms) at a time, because a line per event would wake
bpftrace per event (its header says more).  So the lines are map entries,
grouped by markers:

    PT_DUMP 4
    @m0[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    @n[4, 0]: 1
    PT_DUMPED 4 1095930107075

    ->  Fork(1095830107075, 18750, 18881, 18746)

and the events of an epoch come out when its PT_DUMPED line is read (or
later, when the tree is busy: see QUIET_ENTRIES), or, for the last epochs,
which bpftrace prints as it exits, at the end.  How an entry holds an event
(an argv, a Fork carried by its Exit) is entries.py's business.

Each epoch is checked against the counts the script kept: events that never
reached user space (an epoch that filled its map) become a Lost event; an
exec whose argv chunks went missing is kept, cut at the gap and marked
truncated, and a CutShort marker follows it.  PT_FINAL E says that the root
has exited and that epoch E, the one of its exit, is complete: the recorder
stops bpftrace then, and what it may have printed of later epochs is not
read.
"""

from __future__ import annotations

import re
from array import array
from collections import deque
from typing import Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID
from proctrace.record.entries import ARGV_LIMIT, Key, decode_wait_status, epoch_events, read_entry
from proctrace.record.markers import Begin, CutShort, End, Final, Garbled, Message, Tick
from proctrace.record.script import ARGV_CHUNKS, CHUNK_BYTES, FILENAME_CHUNKS, SLOTS

__all__ = [
    "parse_batches", "decode_wait_status", "CHUNK_BYTES", "ARGV_CHUNKS", "FILENAME_CHUNKS", "ARGV_LIMIT", "SLOTS",
]

# The per-epoch counts (the second number of an @n key): events written, epoch begun.
_EVENTS, _BEGAN = 0, 2
# Reading an entry costs record's Python about 5 us, and while the tree forks
# fast that time is taken from it: record and its processes share the CPUs
# (a loop of /bin/true ran about 1% slower for it).  So, with hold=True, the
# entries of a busy epoch (more than QUIET_ENTRIES) are kept as lines and read
# once an epoch is quiet again, once HOLD_BYTES of them are held (a tree that
# forks fast for a long time: 16 MiB is about 60,000 processes), or at the end,
# while bpftrace is being torn down.  A quiet tree's events come out at once.
# A Lost line that bpftrace prints meanwhile waits in its place behind them.
QUIET_ENTRIES = 32
HOLD_BYTES = 16 << 20
# While bpftrace runs, a backlog is let out an epoch at a time, about this many events
# (some 20 ms of reading) after each batch of lines
RELEASE_EVENTS = 4096


Item = Union[Fork, Exec, Exit, SetSID, SetPGID, Lost, Begin, End, Tick, Final, CutShort, Message, Garbled]

_BEGIN = re.compile(rb"PT_BEGIN (\d+) (-?\d+)")
_END = re.compile(rb"PT_END (\d+) (\d+)")
_DUMP = re.compile(rb"PT_DUMP (\d+)|PT_DUMPED (\d+) (\d+)|PT_FINAL (\d+)")
# @n[4, 0]: 12
_COUNT = re.compile(rb"@n\[(\d+), (\d+)\]: (\d+)")
# Lost 12 events   (bpftrace's own message when a per-CPU buffer overflowed)
_LOST = re.compile(rb"Lost (\d+) events")


class _Backlog:
    """What is to be read later, in the order it came: dumps, each kept as one bytes object and
    its lines' numbers (half the memory of a list of numbered lines), and bpftrace's Lost lines."""

    def __init__(self):
        self.items: Deque[Union[int, tuple]] = deque()   # a Lost line's count, or a dump
        self.size = 0           # bytes of dump text held

    def __bool__(self) -> bool:
        return bool(self.items)

    def add_dump(self, epoch: int, lines: List[Tuple[int, bytes]], lineno: int, cut: bool = False) -> None:
        text = b"\n".join(line for _, line in lines)
        self.items.append((epoch, text, array("L", [number for number, _ in lines]), lineno, cut))
        self.size += len(text)

    def add_lost(self, count: int) -> None:
        self.items.append(count)

    def take(self) -> Union[int, tuple]:
        """The oldest item: a Lost line's count, or a dump as (epoch, its numbered lines, the line
        number of its end, whether it was cut short)."""
        item = self.items.popleft()
        if isinstance(item, int):
            return item
        epoch, text, numbers, lineno, cut = item
        self.size -= len(text)
        return epoch, zip(numbers, text.split(b"\n")), lineno, cut


class _Epochs:
    """The entries and counts read so far, by epoch, and which epochs have been told."""

    def __init__(self, strict: bool, source: str, hold: bool):
        self.strict = strict
        self.source = source
        self.counts: Dict[Tuple[int, int], int] = {}
        self.done: set = set()
        self.dumping: Optional[int] = None       # the epoch between PT_DUMP and PT_DUMPED
        self.dumped: List[Tuple[int, bytes]] = []  # its entry lines, with their numbers
        self.hold = hold
        self.backlog = _Backlog()
        self.release_due = False                 # the backlog is to be read, a little at every batch
        # entries printed outside a dump (as bpftrace exits), by epoch
        self.left: Dict[int, Dict[Key, object]] = {}
        self.last_epoch: Optional[int] = None    # from PT_END
        self.final: Optional[int] = None         # from PT_FINAL
        self.last_timestamp = 0

    def entry(self, lineno: int, line: bytes) -> None:
        """An @m or @c line: kept as it is in a dump (read with its epoch), else read now."""
        if self.dumping is not None:
            self.dumped.append((lineno, line))
            return
        epoch, key, value = read_entry(line)
        if epoch not in self.done:
            self.left.setdefault(epoch, {})[key] = value

    def begin_dump(self, epoch: int) -> None:
        if self.dumping is not None:
            raise ValueError(f"PT_DUMP {epoch} inside the dump of epoch {self.dumping}")
        self.dumping = epoch
        self.dumped = []

    def end_dump(self, epoch: int, lineno: int) -> List[Item]:
        """This epoch's events, or none yet when it is held (see QUIET_ENTRIES)."""
        if self.dumping != epoch:
            raise ValueError(f"PT_DUMPED {epoch} without its PT_DUMP")
        self.dumping = None
        lines, self.dumped = self.dumped, []
        quiet = len(lines) <= QUIET_ENTRIES
        if not self.backlog and (quiet or not self.hold):
            return self.read(epoch, lines, lineno)
        self.backlog.add_dump(epoch, lines, lineno)
        if quiet or self.backlog.size > HOLD_BYTES:
            self.release_due = True
        return []

    def cut_dump(self, lineno: int) -> None:
        """bpftrace stopped in the middle of a dump: what it printed of it is read, and reported cut."""
        if self.dumping is not None:
            self.backlog.add_dump(self.dumping, self.dumped, lineno, cut=True)
            self.dumping, self.dumped = None, []

    def lost(self, count: int) -> Optional[Lost]:
        """bpftrace's own Lost line: in its place after what is held, at the newest time seen then."""
        if self.backlog:
            self.backlog.add_lost(count)
            return None
        return Lost(self.last_timestamp, count)

    def release(self, events: Optional[int] = None) -> Iterator[List[Item]]:
        """The backlog's events, an epoch a batch, each read when it is asked for: all of it, or
        (while bpftrace runs) until about `events` events are out, so that the pump goes on
        reading bpftrace meanwhile (a bpftrace that nobody reads fills its maps)."""
        while self.backlog and (events is None or events > 0):
            item = self.backlog.take()
            if isinstance(item, int):
                yield [Lost(self.last_timestamp, item)]
                continue
            epoch, lines, lineno, cut = item
            batch = self.read(epoch, lines, lineno)
            if events is not None:
                events -= max(1, len(batch))
            if cut:
                reason = (f"bpftrace stopped while it printed epoch {epoch}: "
                          "events of that 100 ms may be missing")
                if self.strict:
                    raise ParseError(self.source, lineno, reason)
                batch.append(Garbled(lineno, f"epoch {epoch}", reason))
            yield batch
        self.release_due = bool(self.backlog)

    def read(self, epoch: int, lines: Iterable[Tuple[int, bytes]], lineno: int) -> List[Item]:
        """One dump's numbered lines -> its events, and a Garbled item for each line that cannot be read."""
        out: List[Item] = []
        entries: Dict[Key, object] = {}
        for entry_lineno, line in lines:
            try:
                entry_epoch, key, value = read_entry(line)
            except ValueError as err:
                if self.strict:
                    raise ParseError(self.source, entry_lineno, str(err)) from None
                out.append(Garbled(entry_lineno, line.decode("utf-8", "backslashreplace"), str(err)))
                continue
            # A map is read entry by entry; one cleared meanwhile can show an
            # entry twice, or a later epoch's entries, which come again in theirs.
            if entry_epoch == epoch:
                entries[key] = value
        out.extend(self.resolve(epoch, entries, lineno))
        return out

    def finish(self, lineno: int) -> List[Item]:
        """After release: the epochs bpftrace printed as it exited and those never printed (up to PT_FINAL's)."""
        out: List[Item] = []
        epochs = set(self.left)
        if self.last_epoch is not None:
            epochs.update(range(self.last_epoch + 1))
        epochs.update(epoch for epoch, what in self.counts if what != _BEGAN)
        if self.final is not None:
            # stopped once the root's epoch was told: what began after it is not ours to check
            epochs = {epoch for epoch in epochs if epoch <= self.final}
        for epoch in sorted(epochs - self.done):
            out.extend(self.resolve(epoch, self.left.pop(epoch, {}), lineno))
        return out

    def resolve(self, epoch: int, entries: Dict[Key, object], lineno: int) -> List[Item]:
        """One epoch's entries -> its events in time order, plus a Lost event for what is missing."""
        self.done.add(epoch)
        out, told, last = epoch_events(entries)
        self.last_timestamp = max(self.last_timestamp, last)
        expected = self.counts.get((epoch, _EVENTS))
        if expected is None and (epoch, _BEGAN) not in self.counts:
            reason = (f"the count of epoch {epoch} was not read in time: "
                      "events of that 100 ms may be missing")
            if self.strict:
                raise ParseError(self.source, lineno, reason)
            out.append(Garbled(lineno, f"epoch {epoch}", reason))
        elif expected is not None and expected > told:
            out.append(Lost(self.last_timestamp, expected - told))
        return out


def parse_batches(batches: Iterable[List[bytes]], *, strict: bool = True, source: str = "bpftrace",
                  hold: bool = False) -> Iterator[List[Item]]:
    """Batches of raw lines -> batches of events and markers: one out per one in, then the
    held epochs let out after it (an epoch a batch), and at the end the rest.

    With strict=True an unreadable line of ours raises ParseError; with
    strict=False it becomes a Garbled item, so a live recording goes on.
    With hold=True the entries of busy epochs are read later (HOLD_BYTES says when).
    The epochs printed as bpftrace exits, and the End marker, come last.
    """
    epochs = _Epochs(strict, source, hold)
    end: Optional[End] = None
    lineno = 0
    for lines in batches:
        out: List[Item] = []
        for raw in lines:
            lineno += 1
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            if epochs.final is not None and line[:1] in (b"@", b"P"):
                continue  # the recording ended with the root's epoch
            try:
                item = _parse_line(line, epochs, lineno, out)
            except ValueError as err:
                if strict:
                    raise ParseError(source, lineno, str(err)) from None
                out.append(Garbled(lineno, line.decode("utf-8", "backslashreplace"), str(err)))
                continue
            if isinstance(item, End):
                end = item
            elif item is not None:
                out.append(item)
        yield out
        if epochs.release_due:
            yield from epochs.release(RELEASE_EVENTS)
    epochs.cut_dump(lineno)
    yield from epochs.release()
    rest: List[Item] = epochs.finish(lineno)
    if end is not None:
        rest.append(end)
    if rest:
        yield rest


def _parse_line(line: bytes, epochs: _Epochs, lineno: int, out: List[Item]) -> Optional[Item]:
    """One line -> the item it is, or None when it only fed the epochs (whose events go to `out`)."""
    if line.startswith(b"@m") or line.startswith(b"@c"):
        epochs.entry(lineno, line)
        return None
    if line.startswith(b"@f"):
        return None  # a map's busy flag (proctrace.bt's tick), printed if bpftrace stops mid-dump
    if line.startswith(b"@n["):
        match = _COUNT.fullmatch(line)
        if not match:
            raise ValueError("malformed count")
        epochs.counts[int(match.group(1)), int(match.group(2))] = int(match.group(3))
        return None
    if line.startswith(b"PT_DUMP") or line.startswith(b"PT_FINAL"):
        match = _DUMP.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_DUMP line")
        if match.group(1) is not None:
            epochs.begin_dump(int(match.group(1)))
            return None
        if match.group(4) is not None:
            epochs.final = int(match.group(4))
            return Final(epochs.final)
        out.extend(epochs.end_dump(int(match.group(2)), lineno))
        return Tick(int(match.group(3)))
    if line.startswith(b"PT_BEGIN"):
        match = _BEGIN.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_BEGIN line")
        return Begin(int(match.group(1)), int(match.group(2)))
    if line.startswith(b"PT_END"):
        match = _END.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_END line")
        epochs.last_epoch = int(match.group(2))
        epochs.cut_dump(lineno)  # what follows is the maps printed as bpftrace exits
        return End(int(match.group(1)))
    match = _LOST.fullmatch(line.strip())
    if match:
        # bpftrace does not say when; the newest time seen keeps the order sane
        return epochs.lost(int(match.group(1)))
    return Message(line.decode("utf-8", "backslashreplace"))
