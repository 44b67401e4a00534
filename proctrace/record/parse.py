"""bpftrace's raw output lines -> proctrace events (plus a few control markers).

proctrace.bt keeps events in BPF maps and has bpftrace print them an epoch
(100 ms) at a time, because a line per event would wake bpftrace per event
(its header says more).  So the lines are map entries, grouped by markers:

    PT_DUMP 4
    @m0[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0)
    @n[4, 0]: 1
    PT_DUMPED 4 1095930107075

    ->  Fork(1095830107075, 18750, 18881, 18746)

and the events of an epoch come out when its PT_DUMPED line is read, or, for
the last epochs, which bpftrace prints as it exits, at the end.  Each epoch is
checked against the counts the script kept: events that never reached user
space (an epoch that filled its map) become a Lost event; an exec whose argv
chunks went missing is kept, cut at the gap and marked truncated.

A long argv (or filename) is not in the maps but printed as it happens, in
hex chunks tagged with the pid and the timestamp of its exec:

    A 18881 1095830107075 0 \\x2f\\x62...

An exec waiting for such chunks comes out once they have all arrived (they
may come after its epoch when bpftrace lags behind a burst), or at the end.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID

__all__ = [
    "Begin", "End", "Tick", "Message", "Garbled", "parse_batches", "decode_wait_status",
    "CHUNK_BYTES", "ARGV_CHUNKS", "FILENAME_CHUNKS", "ARGV_LIMIT", "SLOTS", "PRINTED_BYTES",
    "MAP_ARGV_BYTES", "MAP_NAME_BYTES",
]

# Must match proctrace.bt (a test checks that it does).
SLOTS = 4
CHUNK_WORDS = 8
CHUNK_BYTES = 8 * CHUNK_WORDS
# An argv up to MAP_ARGV_BYTES (a filename up to MAP_NAME_BYTES) is in the maps;
MAP_ARGV_BYTES, MAP_NAME_BYTES = 512, 256
# a longer one is printed in chunks of PRINTED_BYTES.
PRINTED_BYTES = 160
ARGV_CHUNKS = 800
FILENAME_CHUNKS = 26
# Bytes of argv recorded exactly; a longer argv is cut and marked truncated.
ARGV_LIMIT = PRINTED_BYTES * ARGV_CHUNKS
FILENAME_LIMIT = PRINTED_BYTES * FILENAME_CHUNKS

# The kinds of map entry (the third number of an @m key).
# (4 and 6 are no longer written)
FORK, EXEC, ARGV_CHUNK, _, NAME_CHUNK, _, EXIT, SETSID, SETPGID = range(1, 10)
_EVENT_KINDS = (FORK, EXEC, EXIT, SETSID, SETPGID)
# The per-epoch counts (the second number of an @n key): events written, epoch begun.
_EVENTS, _BEGAN = 0, 2


@dataclass(frozen=True)
class Begin:
    """bpftrace attached every probe (the BEGIN probe ran): the command may start."""

    timestamp: int
    root: int


@dataclass(frozen=True)
class End:
    """bpftrace detached its probes and printed what was left (the END probe ran)."""

    timestamp: int


@dataclass(frozen=True)
class Tick:
    """An epoch was printed: bpftrace has read what the kernel gave it up to `timestamp`.

    `waiting` execs still wait for printed chunks of their argv or filename.
    """

    timestamp: int
    waiting: int


@dataclass(frozen=True)
class Message:
    """A line that is not ours: bpftrace's own messages ("Attaching 11 probes...")."""

    text: str


@dataclass(frozen=True)
class Garbled:
    """One of our lines that cannot be read, or an epoch that cannot be checked (strict=False)."""

    lineno: int
    text: str
    reason: str


Item = Union[Fork, Exec, Exit, SetSID, SetPGID, Lost, Begin, End, Tick, Message, Garbled]

_BEGIN = re.compile(rb"PT_BEGIN (\d+) (-?\d+)")
_END = re.compile(rb"PT_END (\d+) (\d+)")
_DUMP = re.compile(rb"PT_DUMP (\d+)|PT_DUMPED (\d+) (\d+)")
# @m2[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0)
_ENTRY = re.compile(rb"@m(\d+)\[(\d+), (\d+), (\d+), (\d+)\]: \((-?\d+(?:, -?\d+){%d})\)" % CHUNK_WORDS)
# @n[4, 0]: 12
_COUNT = re.compile(rb"@n\[(-?\d+), (\d+)\]: (\d+)")
# A 18750 1095828463091 0 \x62\x61\x73\x68\x00      (and N lines, the same shape)
_PRINTED = re.compile(rb"([AN]) (\d+) (\d+) (\d+) ((?:\\x[0-9a-f]{2})*)")
# Lost 12 events   (bpftrace's own message when a per-CPU buffer overflowed)
_LOST = re.compile(rb"Lost (\d+) events")
_CHUNK = struct.Struct(f"={CHUNK_WORDS}q")


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


def _mapped(pieces: Dict[Tuple[int, int], Tuple[int, ...]], kind: int, size: int) -> Tuple[bytes, bool]:
    """The bytes of a short argv or filename from its chunk entries -> (bytes, complete).

    A missing entry cuts the bytes there: what is kept is certain.
    """
    parts = []
    for index in range(-(-size // CHUNK_BYTES)):
        values = pieces.get((kind, index))
        if values is None:
            return b"".join(parts), False
        parts.append(_CHUNK.pack(*values[1:]))
    return b"".join(parts)[:size], True


def _printed(chunks: Dict[int, bytes], size: int, limit: int) -> Tuple[bytes, bool]:
    """The bytes of a long argv or filename from its printed chunks -> (bytes, complete)."""
    parts = []
    for index in range(-(-min(size, limit) // PRINTED_BYTES)):
        if index not in chunks:
            return b"".join(parts), False
        parts.append(chunks[index])
    return b"".join(parts), True


class _ExecParts:
    """An exec's header, its map entries and its printed chunks, until it can be told."""

    __slots__ = ("timestamp", "pid", "values", "pieces", "argv", "name")

    def __init__(self, timestamp: int, pid: int, values: Tuple[int, ...],
                 pieces: Dict[Tuple[int, int], Tuple[int, ...]]):
        self.timestamp, self.pid, self.values, self.pieces = timestamp, pid, values, pieces
        self.argv: Dict[int, bytes] = {}
        self.name: Dict[int, bytes] = {}

    def complete(self) -> bool:
        argv_bytes, name_bytes = self.values[4], self.values[5]
        return ((argv_bytes <= MAP_ARGV_BYTES or _printed(self.argv, argv_bytes, ARGV_LIMIT)[1])
                and (name_bytes <= MAP_NAME_BYTES or _printed(self.name, name_bytes, FILENAME_LIMIT)[1]))

    def event(self) -> Exec:
        """The Exec, marked truncated when argv was cut or some of it went missing."""
        _, ppid, pgid, sid, argv_bytes, name_bytes = self.values[:6]
        if argv_bytes <= MAP_ARGV_BYTES:
            data, complete = _mapped(self.pieces, ARGV_CHUNK, argv_bytes)
        else:
            data, complete = _printed(self.argv, argv_bytes, ARGV_LIMIT)
        if name_bytes <= MAP_NAME_BYTES:
            name, name_complete = _mapped(self.pieces, NAME_CHUNK, name_bytes)
        else:
            name, name_complete = _printed(self.name, name_bytes, FILENAME_LIMIT)
        filename = None
        if name_complete and 0 < name_bytes <= FILENAME_LIMIT:
            filename = name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        return Exec(self.timestamp, self.pid, ppid, pgid, _split_argv(data), filename=filename, sid=sid,
                    cmdline_truncated=not complete or argv_bytes > ARGV_LIMIT)


def _event(key: Tuple[int, int, int, int], values: Tuple[int, ...]) -> Item:
    """A Fork, Exit, SetSID or SetPGID from its map entry."""
    timestamp, pid, kind, _ = key
    if kind == FORK:
        return Fork(timestamp, values[1], pid, values[2])
    if kind == EXIT:
        exit_code, signal = decode_wait_status(values[4])
        return Exit(timestamp, pid, values[1], values[2], sid=values[3], exit_code=exit_code, signal=signal)
    if kind == SETSID:
        return SetSID(timestamp, pid, values[1], values[2], values[3])
    return SetPGID(timestamp, pid, values[1], values[2])


class _Epochs:
    """The entries, counts and printed chunks read so far, and what has been told."""

    def __init__(self, strict: bool, source: str):
        self.strict = strict
        self.source = source
        self.counts: Dict[Tuple[int, int], int] = {}
        self.done: set = set()
        self.dumping: Optional[int] = None       # the epoch between PT_DUMP and PT_DUMPED
        self.dumped: Dict[Tuple[int, int, int, int], Tuple[int, ...]] = {}
        # entries printed outside a dump (as bpftrace exits), by epoch
        self.left: Dict[int, Dict[Tuple[int, int, int, int], Tuple[int, ...]]] = {}
        self.last_epoch: Optional[int] = None    # from PT_END
        self.last_timestamp = 0
        # (pid, timestamp) -> printed chunks of execs not yet read, and execs waiting for chunks
        self.printed: Dict[Tuple[int, int], Tuple[Dict[int, bytes], Dict[int, bytes]]] = {}
        self.waiting: Dict[Tuple[int, int], _ExecParts] = {}

    def entry(self, key: Tuple[int, int, int, int], values: Tuple[int, ...]) -> None:
        epoch = values[0]
        # A map is read entry by entry; one cleared meanwhile can show an
        # entry twice, or a later epoch's entries, which come again in theirs.
        if self.dumping is not None:
            if epoch == self.dumping:
                self.dumped[key] = values
        elif epoch not in self.done:
            self.left.setdefault(epoch, {})[key] = values

    def chunk(self, kind: bytes, pid: int, timestamp: int, index: int, data: bytes) -> List[Item]:
        """A printed chunk of a long argv or filename: an Exec when it was the last one missing."""
        exec_ = self.waiting.get((pid, timestamp))
        if exec_ is not None:
            (exec_.argv if kind == b"A" else exec_.name)[index] = data
            if exec_.complete():
                del self.waiting[pid, timestamp]
                return [exec_.event()]
            return []
        argv, name = self.printed.setdefault((pid, timestamp), ({}, {}))
        (argv if kind == b"A" else name)[index] = data
        return []

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
        """The epochs bpftrace printed as it exited, those never printed, and the execs still waiting."""
        out: List[Item] = []
        epochs = set(self.left)
        if self.last_epoch is not None:
            epochs.update(range(self.last_epoch + 1))
        epochs.update(epoch for epoch, what in self.counts if what != _BEGAN)
        for epoch in sorted(epochs - self.done):
            out.extend(self.resolve(epoch, self.left.pop(epoch, {}), lineno))
        # their last chunks never came: what came is kept, marked truncated
        out.extend(exec_.event() for exec_ in sorted(self.waiting.values(), key=lambda e: e.timestamp))
        self.waiting.clear()
        return out

    def resolve(self, epoch: int, entries: Dict[Tuple[int, int, int, int], Tuple[int, ...]],
                lineno: int) -> List[Item]:
        """One epoch's entries -> its events in time order, plus a Lost event for what is missing."""
        self.done.add(epoch)
        pieces: Dict[Tuple[int, int], Dict[Tuple[int, int], Tuple[int, ...]]] = {}
        heads = []
        for key, values in entries.items():
            if key[2] in _EVENT_KINDS:
                heads.append((key, values))
            else:
                pieces.setdefault(key[:2], {})[key[2:]] = values
        heads.sort()
        out: List[Item] = []
        for key, values in heads:
            if key[2] != EXEC:
                out.append(_event(key, values))
                continue
            exec_ = _ExecParts(key[0], key[1], values, pieces.get(key[:2], {}))
            printed = self.printed.pop((key[1], key[0]), None)
            if printed is not None:
                exec_.argv, exec_.name = printed
            if exec_.complete():
                out.append(exec_.event())
            else:
                self.waiting[key[1], key[0]] = exec_
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
            try:
                item = _parse_line(line, epochs, lineno, out)
            except (ValueError, binascii.Error) as err:
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


def _parse_line(line: bytes, epochs: _Epochs, lineno: int, out: List[Item]) -> Optional[Item]:
    """One line -> the item it is, or None when it only fed the epochs (whose events go to `out`)."""
    if line.startswith(b"@m"):
        match = _ENTRY.fullmatch(line)
        if not match or int(match.group(1)) >= SLOTS:
            raise ValueError("malformed map entry")
        key = (int(match.group(2)), int(match.group(3)), int(match.group(4)), int(match.group(5)))
        values = tuple(map(int, match.group(6).split(b", ")))
        if not FORK <= key[2] <= SETPGID or values[0] < 0:
            raise ValueError("a map entry of no known kind")
        if key[2] in _EVENT_KINDS and min(values[1:6]) < 0:
            raise ValueError("a field is negative")
        epochs.entry(key, values)
        return None
    if line[:2] in (b"A ", b"N "):
        match = _PRINTED.fullmatch(line)
        if not match:
            raise ValueError("malformed chunk line")
        data = binascii.a2b_hex(match.group(5).replace(b"\\x", b""))
        out.extend(epochs.chunk(match.group(1), int(match.group(2)), int(match.group(3)),
                                int(match.group(4)), data))
        return None
    if line.startswith(b"@f"):
        return None  # a map's busy flag (proctrace.bt's tick), printed if bpftrace stops mid-dump
    if line.startswith(b"@n["):
        match = _COUNT.fullmatch(line)
        if not match:
            raise ValueError("malformed count")
        epochs.counts[int(match.group(1)), int(match.group(2))] = int(match.group(3))
        return None
    if line.startswith(b"PT_DUMP"):
        match = _DUMP.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_DUMP line")
        if match.group(1) is not None:
            epochs.begin_dump(int(match.group(1)))
            return None
        out.extend(epochs.end_dump(int(match.group(2)), lineno))
        return Tick(int(match.group(3)), len(epochs.waiting))
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
