"""bpftrace's map entries -> proctrace events: how proctrace.bt lays an event out.

One line of a dump is an entry of an event map (@m: a key and 17 numbers)
or of a chunk map (@c: a key and 16 words of an argv or filename).  An
epoch's entries together make its events (parse.py says when an epoch is
complete, and checks it against the script's counts):

    @m0[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    ->  Fork(1095830107075, 18750, 18881, 18746)

An argv is in 128-byte chunks: whole ones in @c entries, the last, partial
one in an @m entry (zero-filled), both keyed by the pid and the timestamp of
their exec:

    @c1[1095830107075, 18881, 3, 0, 5]: { .w = [7596498889059152431,...] }

unless it is short (at most 32 bytes, and the filename at most 24): then
both are in the Exec's own entry, after its numbers, zero-filled.
A process's Fork is likewise in its Exit's entry, after the Exit's
numbers, when the exit came in the epoch of the fork (most processes); the
script's count of the epoch's events counts such an Exit as two.
"""

from __future__ import annotations

import re
import struct
from typing import Dict, Optional, Tuple, Union

from proctrace.events import Exec, Exit, Fork, SetPGID, SetSID
from proctrace.record.markers import CutShort
from proctrace.record.script import (ARGV_CHUNKS, CHUNK_BYTES, CHUNK_WORDS, FILENAME_CHUNKS, PACKED_ARGV_WORDS,
                                     PACKED_NAME_WORDS, SLOTS)

__all__ = ["read_entry", "epoch_events", "decode_wait_status", "ARGV_LIMIT", "FILENAME_LIMIT", "Key"]

Key = Tuple[int, int, int, int]

# Bytes of argv recorded exactly; a longer argv is cut and marked truncated.
ARGV_LIMIT = CHUNK_BYTES * ARGV_CHUNKS
FILENAME_LIMIT = CHUNK_BYTES * FILENAME_CHUNKS

# The kinds of map entry (the third number of a key).  (4 and 6 are not written.)
FORK, EXEC, ARGV_CHUNK, _, NAME_CHUNK, _, EXIT, SETSID, SETPGID = range(1, 10)
_EVENT_KINDS = frozenset((FORK, EXEC, EXIT, SETSID, SETPGID))
_CHUNK_KINDS = frozenset((ARGV_CHUNK, NAME_CHUNK))
_ENTRY_KINDS = _EVENT_KINDS | _CHUNK_KINDS
# @m1[1095830107075, 18881, 1, 0]: (4, 18750, 18746, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_ENTRY = re.compile(rb"@m(\d+)\[(\d+), (\d+), (\d+), (\d+)\]: \((\d+(?:, \d+){%d})\)" % CHUNK_WORDS)
# @c0[1095830107075, 18881, 3, 0, 4]: { .w = [7596498889059152431,...,8] }
_CHUNK = re.compile(rb"@c(\d+)\[(\d+), (\d+), (\d+), (\d+), (\d+)\]: \{ \.w = \[(\d+(?:,\d+){%d})\] \}"
                    % (CHUNK_WORDS - 1))
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


def _event(key: Key, values: Tuple[int, ...]) -> Union[Fork, Exit, SetSID, SetPGID]:
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


def _checked_key(match, kinds: frozenset, what: str) -> Key:
    """The key of a matched entry line, once its map slot and its kind are known ones."""
    if not match or int(match.group(1)) >= SLOTS:
        raise ValueError(f"malformed {what}")
    key = tuple(map(int, match.group(2, 3, 4, 5)))
    if key[2] not in kinds:
        raise ValueError(f"a {what} of no known kind")
    return key


def read_entry(line: bytes) -> Tuple[int, Key, object]:
    """An @m line -> (epoch, key, its values); an @c line -> (epoch, key, its 128 bytes)."""
    if line.startswith(b"@m"):
        match = _ENTRY.fullmatch(line)
        key = _checked_key(match, _ENTRY_KINDS, "map entry")
        # only the numbers the kind uses are read: int() of a word costs as much as the match
        wanted = _VALUES_READ.get(key[2])
        text = match.group(6)
        values = tuple(map(int, text.split(b", ", wanted)[:wanted] if wanted else text.split(b", ")))
        if max(values) >= 1 << 64:
            raise ValueError("a map value is out of range")  # its words are bytes: they must pack
        return values[0], key, values
    match = _CHUNK.fullmatch(line)
    key = _checked_key(match, _CHUNK_KINDS, "chunk entry")
    words = tuple(map(int, match.group(7).split(b",")))
    if max(words) >= 1 << 64:
        raise ValueError("a chunk word is out of range")
    return int(match.group(6)), key, _WORDS.pack(*words)


def epoch_events(entries: Dict[Key, object]) -> Tuple[list, int, int]:
    """One epoch's entries -> (its events in time order, how many the script counted, the last one's time)."""
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
    out: list = []
    for key, values in heads:
        if key[2] == EXEC:
            exec_, cut = _exec(key, values, pieces.get(key[:2], {}))
            out.append(exec_)
            if cut:
                out.append(CutShort(exec_.pid))
        else:
            out.append(_event(key, values))
    return out, len(heads), heads[-1][0][0] if heads else 0
