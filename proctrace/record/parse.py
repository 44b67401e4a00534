"""bpftrace's raw output lines -> proctrace events (plus a few control markers).

Consumes the lines printed by proctrace.bt (bytes, with or without the
newline) and produces Fork, Exec, Exit, SetSID, SetPGID and Lost events, in
arrival order.  For example:

    b"F 1095830107075 18750 18881 18746"  ->  Fork(1095830107075, 18750, 18881, 18746)

An exec arrives as a header line and then chunk lines with the filename and
argv bytes in hex; the Exec event is produced when its last chunk has arrived.
Chunks of different processes may interleave (bpftrace reads its per-CPU
buffers in turn), but the chunks of one exec all come from one run of one BPF
program on one CPU, so they follow their header before that pid can exec again.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from proctrace.events import Exec, Exit, Fork, Lost, ParseError, SetPGID, SetSID

__all__ = [
    "Begin", "End", "Message", "Garbled", "parse_lines", "parse_batches", "decode_wait_status",
    "CHUNK_BYTES", "ARGV_CHUNKS", "FILENAME_CHUNKS", "ARGV_LIMIT",
]

# Must match proctrace.bt (a test checks that it does).
CHUNK_BYTES = 200
ARGV_CHUNKS = 640
FILENAME_CHUNKS = 21
# Bytes of argv recorded exactly; a longer argv is cut and marked truncated.
ARGV_LIMIT = CHUNK_BYTES * ARGV_CHUNKS


@dataclass(frozen=True)
class Begin:
    """bpftrace attached every probe (the BEGIN probe ran): the command may start."""

    timestamp: int
    root: int


@dataclass(frozen=True)
class End:
    """bpftrace detached its probes and drained its buffers (the END probe ran)."""

    timestamp: int


@dataclass(frozen=True)
class Message:
    """A line that is not ours: bpftrace's own messages ("Attaching 8 probes...")."""

    text: str


@dataclass(frozen=True)
class Garbled:
    """One of our lines that cannot be read (only yielded with strict=False)."""

    lineno: int
    text: str
    reason: str


Item = Union[Fork, Exec, Exit, SetSID, SetPGID, Lost, Begin, End, Message, Garbled]

# PT_BEGIN 1095377656908 18750
_BEGIN = re.compile(rb"PT_BEGIN (\d+) (-?\d+)")
# PT_END 1096912549798
_END = re.compile(rb"PT_END (\d+)")
# Lost 12 events   (bpftrace's own message when a per-CPU buffer overflowed)
_LOST = re.compile(rb"Lost (\d+) events")
# A 18750 0 \x62\x61\x73\x68\x00      (and N lines, the same shape)
_CHUNK = re.compile(rb"[AN] (\d+) (\d+) ((?:\\x[0-9a-f]{2})*)")
# F 1095830107075 18750 18881 18746                     ts parent child parent_pgid
# E 1095828463091 18750 18746 18746 1836 207 14        ts pid ppid pgid sid argv_bytes filename_bytes
# X 1095834526516 18881 18750 18881 18881 0            ts pid ppid pgid sid wait_code
# S 1095833766426 18881 18750 18881 18881              ts pid ppid pgid sid
# G 1096124786004 18884 18750 18884                    ts pid ppid pgid
_FIELDS = {b"F": 4, b"E": 7, b"X": 6, b"S": 5, b"G": 4}


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


class _PendingExec:
    """The header of an exec whose chunks have not all arrived yet."""

    __slots__ = ("timestamp", "pid", "ppid", "pgid", "sid", "argv_bytes", "filename_bytes",
                 "argv", "filename", "argv_needed", "filename_needed")

    def __init__(self, fields: List[int]):
        (self.timestamp, self.pid, self.ppid, self.pgid, self.sid,
         self.argv_bytes, self.filename_bytes) = fields
        self.argv: Dict[int, bytes] = {}
        self.filename: Dict[int, bytes] = {}
        self.argv_needed = -(-min(self.argv_bytes, ARGV_LIMIT) // CHUNK_BYTES)
        self.filename_needed = -(-min(self.filename_bytes, CHUNK_BYTES * FILENAME_CHUNKS) // CHUNK_BYTES)

    def complete(self) -> bool:
        return len(self.argv) >= self.argv_needed and len(self.filename) >= self.filename_needed

    def event(self) -> Exec:
        """The Exec, marked truncated when argv was cut or chunks went missing."""
        data = b"".join(self.argv.get(i, b"") for i in range(self.argv_needed))
        missing = len(self.argv) < self.argv_needed
        if missing:
            # keep what is certain: the bytes before the first lost chunk
            first_gap = min(set(range(self.argv_needed)) - set(self.argv))
            data = b"".join(self.argv[i] for i in range(first_gap))
        truncated = missing or self.argv_bytes > ARGV_LIMIT
        name = b"".join(self.filename.get(i, b"") for i in range(self.filename_needed))
        filename = None
        if (len(self.filename) == self.filename_needed and self.filename_bytes <= len(name)
                and self.filename_bytes > 0):
            filename = name[: self.filename_bytes].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        return Exec(self.timestamp, self.pid, self.ppid, self.pgid, _split_argv(data),
                    filename=filename, sid=self.sid, cmdline_truncated=truncated)


def parse_batches(batches: Iterable[List[bytes]], *, strict: bool = True,
                  source: str = "bpftrace") -> Iterator[List[Item]]:
    """Batches of raw lines -> batches of events and markers (one out per one in).

    With strict=True an unreadable line of ours raises ParseError; with
    strict=False it becomes a Garbled item, so a live recording goes on.
    At the end, execs still waiting for chunks are yielded marked truncated.
    """
    pending: Dict[int, _PendingExec] = {}
    last_timestamp = 0
    lineno = 0
    for lines in batches:
        out: List[Item] = []
        for raw in lines:
            lineno += 1
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                items = _parse_line(line, pending, last_timestamp)
            except (ValueError, binascii.Error) as err:
                if strict:
                    raise ParseError(source, lineno, str(err)) from None
                out.append(Garbled(lineno, line.decode("utf-8", "backslashreplace"), str(err)))
                continue
            for item in items:
                if not isinstance(item, (End, Message)):
                    last_timestamp = max(last_timestamp, item.timestamp)
                out.append(item)
        yield out
    leftovers = sorted(pending.values(), key=lambda p: p.timestamp)
    if leftovers:
        yield [p.event() for p in leftovers]


def parse_lines(lines: Iterable[bytes], *, strict: bool = True) -> Iterator[Item]:
    """Raw lines -> events and markers, one at a time (see parse_batches)."""
    for batch in parse_batches(([line] for line in lines), strict=strict):
        yield from batch


def _numbers(line: bytes, count: int) -> List[int]:
    parts = line.split(b" ")
    if len(parts) != count + 1:
        raise ValueError(f"expected {count} numbers after {parts[0].decode('ascii', 'replace')!r}")
    try:
        values = [int(part) for part in parts[1:]]
    except ValueError:
        raise ValueError("a field is not a number") from None
    if any(value < 0 for value in values):
        raise ValueError("a field is negative")
    return values


def _parse_line(line: bytes, pending: Dict[int, _PendingExec], last_timestamp: int) -> List[Item]:
    """One line -> its items: none when it only fed a pending exec."""
    kind = line[:1]
    if kind in (b"A", b"N") and line[1:2] == b" ":
        match = _CHUNK.fullmatch(line)
        if not match:
            raise ValueError("malformed chunk line")
        pid, index = int(match.group(1)), int(match.group(2))
        data = binascii.a2b_hex(match.group(3).replace(b"\\x", b""))
        exec_ = pending.get(pid)
        if exec_ is None:
            return []  # its header was lost (a Lost event says so)
        if kind == b"A":
            exec_.argv[index] = data
        else:
            exec_.filename[index] = data
        if exec_.complete():
            del pending[pid]
            return [exec_.event()]
        return []
    if kind in _FIELDS and line[1:2] == b" ":
        fields = _numbers(line, _FIELDS[kind])
        if kind == b"F":
            return [Fork(*fields)]
        if kind == b"E":
            # a previous exec of this pid that never completed is given up on
            previous = pending.pop(fields[1], None)
            items: List[Item] = [previous.event()] if previous is not None else []
            exec_ = _PendingExec(fields)
            if exec_.complete():
                items.append(exec_.event())
            else:
                pending[exec_.pid] = exec_
            return items
        if kind == b"X":
            timestamp, pid, ppid, pgid, sid, code = fields
            exit_code, signal = decode_wait_status(code)
            return [Exit(timestamp, pid, ppid, pgid, sid=sid, exit_code=exit_code, signal=signal)]
        if kind == b"S":
            timestamp, pid, ppid, pgid, sid = fields
            return [SetSID(timestamp, pid, ppid, pgid, sid)]
        return [SetPGID(*fields)]
    if line.startswith(b"PT_BEGIN"):
        match = _BEGIN.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_BEGIN line")
        return [Begin(int(match.group(1)), int(match.group(2)))]
    if line.startswith(b"PT_END"):
        match = _END.fullmatch(line)
        if not match:
            raise ValueError("malformed PT_END line")
        return [End(int(match.group(1)))]
    match = _LOST.fullmatch(line.strip())
    if match:
        # bpftrace does not say when; the newest time seen keeps the order sane
        return [Lost(last_timestamp, int(match.group(1)))]
    return [Message(line.decode("utf-8", "backslashreplace"))]
