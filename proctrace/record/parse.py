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

and the events of an epoch come out when its PT_DUMPED line is read, or, for
the last epochs, which bpftrace prints as it exits, at the end.  An argv is
in 128-byte chunks: whole ones in @c entries, the last, partial one in an @m
entry (zero-filled), both keyed by the pid and the timestamp of their exec:

    @c1[1095830107075, 18881, 3, 0, 5]: { .w = [7596498889059152431,...] }

unless it is short (at most 32 bytes, and the filename at most 24): then
both are in the Exec's own entry, after its numbers, zero-filled.
A process's Fork is likewise in its Exit's entry, after the Exit's
numbers, when the exit came in the epoch of the fork (most processes); the
script's count of the epoch's events counts such an Exit as two.

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
import struct
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID
from proctrace.record.markers import Begin, CutShort, End, Final, Garbled, Message, Tick
from proctrace.record.script import (ARGV_CHUNKS, CHUNK_BYTES, CHUNK_WORDS, FILENAME_CHUNKS, PACKED_ARGV_WORDS,
                                     PACKED_NAME_WORDS, SLOTS)

__all__ = [
    "parse_batches", "decode_wait_status", "CHUNK_BYTES", "ARGV_CHUNKS", "FILENAME_CHUNKS", "ARGV_LIMIT", "SLOTS",
]

# Bytes of argv recorded exactly; a longer argv is cut and marked truncated.
ARGV_LIMIT = CHUNK_BYTES * ARGV_CHUNKS
FILENAME_LIMIT = CHUNK_BYTES * FILENAME_CHUNKS

# The kinds of map entry (the third number of a key).  (4 and 6 are not written.)
FORK, EXEC, ARGV_CHUNK, _, NAME_CHUNK, _, EXIT, SETSID, SETPGID = range(1, 10)
_EVENT_KINDS = frozenset((FORK, EXEC, EXIT, SETSID, SETPGID))
_CHUNK_KINDS = frozenset((ARGV_CHUNK, NAME_CHUNK))
_ENTRY_KINDS = _EVENT_KINDS | _CHUNK_KINDS
# The per-epoch counts (the second number of an @n key): events written, epoch begun.
_EVENTS, _BEGAN = 0, 2


Item = Union[Fork, Exec, Exit, SetSID, SetPGID, Lost, Begin, End, Tick, Final, CutShort, Message, Garbled]
Key = Tuple[int, int, int, int]

_BEGIN = re.compile(rb"PT_BEGIN (\d+) (-?\d+)")
_END = re.compile(rb"PT_END (\d+) (\d+)")
_DUMP = re.compile(rb"PT_DUMP (\d+)|PT_DUMPED (\d+) (\d+)|PT_FINAL (\d+)")
# @m1[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_ENTRY = re.compile(rb"@m(\d+)\[(\d+), (\d+), (\d+), (\d+)\]: \((\d+(?:, \d+){%d})\)" % CHUNK_WORDS)
# @c0[1095830107075, 18881, 3, 0, 4]: { .w = [7596498889059152431,...,8] }
_CHUNK = re.compile(rb"@c(\d+)\[(\d+), (\d+), (\d+), (\d+), (\d+)\]: \{ \.w = \[(\d+(?:,\d+){%d})\] \}"
                    % (CHUNK_WORDS - 1))
# @n[4, 0]: 12
_COUNT = re.compile(rb"@n\[(\d+), (\d+)\]: (\d+)")
# Lost 12 events   (bpftrace's own message when a per-CPU buffer overflowed)
_LOST = re.compile(rb"Lost (\d+) events")
_WORDS = struct.Struct(f"<{CHUNK_WORDS}Q")
# A short argv and filename, in the Exec's own entry: the words after its five numbers
_PACKED_ARGV = struct.Struct(f"<{PACKED_ARGV_WORDS}Q")
_PACKED_NAME = struct.Struct(f"<{PACKED_NAME_WORDS}Q")
_ARGV_WORDS = slice(6, 6 + PACKED_ARGV_WORDS)
_NAME_WORDS = slice(_ARGV_WORDS.stop, _ARGV_WORDS.stop + PACKED_NAME_WORDS)
# How many of an @m entry's numbers each kind uses (the epoch first): the rest are zeros.
# An Exec's packed words come after its five numbers; a last chunk (absent here) uses all.
_VALUES_READ = dict.fromkeys((FORK, SETSID, SETPGID), _ARGV_WORDS.start)
# An Exit whose Fork was in its epoch carries it after its own numbers: when, parent_pid, parent_pgid
_EXIT_FORK = slice(5, 8)
_VALUES_READ[EXIT] = _EXIT_FORK.stop
_VALUES_READ[EXEC] = _NAME_WORDS.stop


def decode_wait_status(code: int) -> Tuple[Optional[int], Optional[int]]:
    """A wait status (the kernel's exit_code) -> (exit_code, signal), one of them None."""
    signal = code & 0x7F
    if signal:
        return None, signal
    return (code >> 8) & 0xFF, None


def _split_argv(data: bytes) -> Tuple[str, ...]:
    # b"ls\0-l\0" -> ("ls", "-l"); a cut argv keeps its partial last argument
    parts = data.split(b"\0")
    if not data or data.endswith(b"\0"):
        parts.pop()
    return tuple(part.decode("utf-8", "surrogateescape") for part in parts)


def _region(chunks: Dict[int, bytes], size: int, limit: int) -> Tuple[bytes, bool]:
    """An argv's or filename's bytes from its chunks -> (bytes, complete); a missing chunk cuts it there."""
    parts = []
    for index in range(-(-min(size, limit) // CHUNK_BYTES)):
        part = chunks.get(index)
        if part is None:
            return b"".join(parts), False
        parts.append(part)
    return b"".join(parts)[:size], True


def _exec(key: Key, values: Tuple[int, ...], pieces: Dict[Tuple[int, int], bytes]) -> Tuple[Exec, bool]:
    """The Exec, marked truncated when argv was cut or some of it went missing; and whether some did."""
    timestamp, pid = key[:2]
    _, ppid, pgid, sid, argv_bytes, name_bytes = values[:6]
    if argv_bytes <= _PACKED_ARGV.size and name_bytes <= _PACKED_NAME.size:
        data, complete = _PACKED_ARGV.pack(*values[_ARGV_WORDS])[:argv_bytes], True
        name, name_complete = _PACKED_NAME.pack(*values[_NAME_WORDS])[:name_bytes], True
    else:
        argv = {index: data for (kind, index), data in pieces.items() if kind == ARGV_CHUNK}
        names = {index: data for (kind, index), data in pieces.items() if kind == NAME_CHUNK}
        data, complete = _region(argv, argv_bytes, ARGV_LIMIT)
        name, name_complete = _region(names, name_bytes, FILENAME_LIMIT)
    filename = None
    if name_complete and 0 < name_bytes <= FILENAME_LIMIT:
        filename = name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    exec_ = Exec(timestamp, pid, ppid, pgid, _split_argv(data), filename, sid,
                 not complete or argv_bytes > ARGV_LIMIT)
    return exec_, not (complete and name_complete)


def _event(key: Key, values: Tuple[int, ...]) -> Item:
    """A Fork, Exit, SetSID or SetPGID from its map entry."""
    timestamp, pid, kind, _ = key
    if kind == FORK:
        return Fork(timestamp, values[1], pid, values[2])
    if kind == EXIT:
        exit_code, signal = decode_wait_status(values[4])
        return Exit(timestamp, pid, values[1], values[2], values[3], exit_code, signal)
    if kind == SETSID:
        return SetSID(timestamp, pid, values[1], values[2], values[3])
    return SetPGID(timestamp, pid, values[1], values[2])


class _Epochs:
    """The entries and counts read so far, by epoch, and which epochs have been told."""

    def __init__(self, strict: bool, source: str):
        self.strict = strict
        self.source = source
        self.counts: Dict[Tuple[int, int], int] = {}
        self.done: set = set()
        self.dumping: Optional[int] = None       # the epoch between PT_DUMP and PT_DUMPED
        self.dumped: Dict[Key, object] = {}
        # entries printed outside a dump (as bpftrace exits), by epoch
        self.left: Dict[int, Dict[Key, object]] = {}
        self.last_epoch: Optional[int] = None    # from PT_END
        self.final: Optional[int] = None         # from PT_FINAL
        self.last_timestamp = 0

    def entry(self, epoch: int, key: Key, value: object) -> None:
        """An @m entry (its values) or an @c entry (its bytes)."""
        # A map is read entry by entry; one cleared meanwhile can show an
        # entry twice, or a later epoch's entries, which come again in theirs.
        if self.dumping is not None:
            if epoch == self.dumping:
                self.dumped[key] = value
        elif epoch not in self.done:
            self.left.setdefault(epoch, {})[key] = value

    def begin_dump(self, epoch: int) -> None:
        if self.dumping is not None:
            raise ValueError(f"PT_DUMP {epoch} inside the dump of epoch {self.dumping}")
        self.dumping = epoch
        self.dumped = {}

    def end_dump(self, epoch: int, lineno: int) -> List[Item]:
        if self.dumping != epoch:
            raise ValueError(f"PT_DUMPED {epoch} without its PT_DUMP")
        self.dumping = None
        entries, self.dumped = self.dumped, {}
        return self.resolve(epoch, entries, lineno)

    def finish(self, lineno: int) -> List[Item]:
        """The epochs bpftrace printed as it exited and those never printed (up to PT_FINAL's, if any)."""
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
        pieces: Dict[Tuple[int, int], Dict[Tuple[int, int], bytes]] = {}
        heads = []
        carried = set()
        for key, value in entries.items():
            if key[2] in _EVENT_KINDS:
                heads.append((key, value))
                if key[2] == EXIT and value[_EXIT_FORK.start]:
                    # the Fork it carries (two threads ending at once may both
                    # write the Exit, and carry it twice): one Fork, as printed
                    when, parent, pgid = value[_EXIT_FORK]
                    fork = (when, key[1], FORK, 0)
                    if fork not in entries and fork not in carried:
                        carried.add(fork)
                        heads.append((fork, (value[0], parent, pgid)))
            else:
                data = value if isinstance(value, bytes) else _WORDS.pack(*value[1:])
                pieces.setdefault(key[:2], {})[key[2:]] = data
        heads.sort()
        out: List[Item] = []
        for key, values in heads:
            if key[2] == EXEC:
                exec_, cut = _exec(key, values, pieces.get(key[:2], {}))
                out.append(exec_)
                if cut:
                    out.append(CutShort(exec_.pid))
            else:
                out.append(_event(key, values))
        if heads:
            self.last_timestamp = max(self.last_timestamp, heads[-1][0][0])
        expected = self.counts.get((epoch, _EVENTS))
        if expected is None and (epoch, _BEGAN) not in self.counts:
            reason = (f"the count of epoch {epoch} was not read in time: "
                      "events of that 100 ms may be missing")
            if self.strict:
                raise ParseError(self.source, lineno, reason)
            out.append(Garbled(lineno, f"epoch {epoch}", reason))
        elif expected is not None and expected > len(heads):
            out.append(Lost(self.last_timestamp, expected - len(heads)))
        return out


def parse_batches(batches: Iterable[List[bytes]], *, strict: bool = True,
                  source: str = "bpftrace") -> Iterator[List[Item]]:
    """Batches of raw lines -> batches of events and markers (one out per one in, plus the rest).

    With strict=True an unreadable line of ours raises ParseError; with
    strict=False it becomes a Garbled item, so a live recording goes on.
    The epochs printed as bpftrace exits, and the End marker, come last.
    """
    epochs = _Epochs(strict, source)
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
    rest: List[Item] = epochs.finish(lineno)
    if end is not None:
        rest.append(end)
    if rest:
        yield rest


def _key(match) -> Key:
    return tuple(map(int, match.group(2, 3, 4, 5)))


def _parse_line(line: bytes, epochs: _Epochs, lineno: int, out: List[Item]) -> Optional[Item]:
    """One line -> the item it is, or None when it only fed the epochs (whose events go to `out`)."""
    if line.startswith(b"@m"):
        match = _ENTRY.fullmatch(line)
        if not match or int(match.group(1)) >= SLOTS:
            raise ValueError("malformed map entry")
        key = _key(match)
        if key[2] not in _ENTRY_KINDS:
            raise ValueError("a map entry of no known kind")
        # only the numbers the kind uses are read: int() of a word costs as much as the match
        wanted = _VALUES_READ.get(key[2])
        text = match.group(6)
        values = tuple(map(int, text.split(b", ", wanted)[:wanted] if wanted else text.split(b", ")))
        if max(values) >= 1 << 64:
            raise ValueError("a map value is out of range")  # its words are bytes: they must pack
        epochs.entry(values[0], key, values)
        return None
    if line.startswith(b"@c"):
        match = _CHUNK.fullmatch(line)
        if not match or int(match.group(1)) >= SLOTS:
            raise ValueError("malformed chunk entry")
        key = _key(match)
        if key[2] not in _CHUNK_KINDS:
            raise ValueError("a chunk entry of no known kind")
        words = tuple(map(int, match.group(7).split(b",")))
        if max(words) >= 1 << 64:
            raise ValueError("a chunk word is out of range")
        epochs.entry(int(match.group(6)), key, _WORDS.pack(*words))
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
        return End(int(match.group(1)))
    match = _LOST.fullmatch(line.strip())
    if match:
        # bpftrace does not say when; the newest time seen keeps the order sane
        return Lost(epochs.last_timestamp, int(match.group(1)))
    return Message(line.decode("utf-8", "backslashreplace"))
