"""The bounded-window reordering stage: events in, the same events in timestamp order out.

bpftrace hands events over from per-CPU buffers, so they arrive slightly out
of order: a FORK line can come after its child's EXEC.  The disorder is
bounded, so a full sort is not needed: an event is held only until every
event that could still come before it has had `window_ns` of event time to
arrive.  Memory is therefore bounded by the events inside the window (plus
the batch being read), not by the length of the recording.

Work is done a batch at a time, with `list.sort`, `bisect` and `itemgetter`
doing the per-event loops in C: this is what makes `proctrace sort` about as
fast as GNU sort.  Ties keep their arrival order (Python's sort is stable and
held events always precede newer ones).

    sort_batches([([5, 3], ["b", "a"]), ([9], ["c"])], window_ns=1) -> ["a", "b"], ["c"]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from proctrace.events import ParseError, timestamp_of_line, timestamps_of

__all__ = ["SortStats", "sort_batches", "keyed_line_batches", "parse_duration", "format_duration"]


@dataclass
class SortStats:
    """What the stage saw: how many events came later than the window allowed."""

    late: int = 0
    # the smallest window that would have kept every late event in order
    needed_window_ns: int = 0


def _reorder(keys: List[int], items: list) -> Tuple[List[int], list]:
    order = sorted(range(len(keys)), key=keys.__getitem__)
    if len(order) == 1:
        return keys, items
    pick = itemgetter(*order)
    return list(pick(keys)), list(pick(items))


def sort_batches(batches: Iterable[Tuple[Sequence[int], Sequence]], *, window_ns: Optional[int],
                 stats: Optional[SortStats] = None) -> Iterator[list]:
    """(keys, items) batches in arrival order -> lists of items in key order.

    `window_ns=None` means an infinite window: a full sort at the end.  Late
    items (older than something already written) are still written, at the
    first chance, and counted in `stats`.
    """
    stats = stats if stats is not None else SortStats()
    held_keys: List[int] = []
    held: list = []
    newest = None          # largest key seen so far
    last_written = None    # key of the last item written
    for keys, items in batches:
        if not keys:
            continue
        keys = list(keys)
        items = list(items)
        if keys != sorted(keys):
            keys, items = _reorder(keys, items)
        if held_keys and keys[0] < held_keys[-1]:
            # Only the held tail that the batch overlaps needs merging: with
            # bounded disorder that is a few events, not the whole window.
            start = bisect_right(held_keys, keys[0])
            tail_keys, tail = _reorder(held_keys[start:] + keys, held[start:] + items)
            del held_keys[start:], held[start:]
            held_keys += tail_keys
            held += tail
        else:
            held_keys += keys
            held += items
        previous_newest = newest
        newest = held_keys[-1] if newest is None else max(newest, held_keys[-1])
        if window_ns is None:
            continue
        cut = bisect_right(held_keys, newest - window_ns)
        if not cut:
            continue
        if last_written is not None and held_keys[0] < last_written:
            stats.late += bisect_left(held_keys, last_written, 0, cut)
            stats.needed_window_ns = max(stats.needed_window_ns, previous_newest - held_keys[0])
        last_written = held_keys[cut - 1]
        out = held[:cut]
        del held[:cut]
        del held_keys[:cut]
        yield out
    if held:
        if last_written is not None and held_keys[0] < last_written:
            stats.late += bisect_left(held_keys, last_written)
            stats.needed_window_ns = max(stats.needed_window_ns, newest - held_keys[0])
        yield held


def keyed_line_batches(chunks: Iterable[bytes], *, source: str) -> Iterator[Tuple[List[int], List[bytes]]]:
    """Chunks of whole lines -> (timestamps, lines) for sort_batches.

    Only the timestamp is read; the lines themselves pass through untouched.
    A line without a readable timestamp raises ParseError naming it.
    """
    lineno = 1
    for body in chunks:
        lines = body.split(b"\n")
        if body.endswith(b"\n"):
            lines.pop()
        keys = timestamps_of(body)
        first, lineno = lineno, lineno + len(lines)
        if len(keys) != len(lines):
            keys, lines = _keys_one_by_one(lines, first, source)
        yield keys, lines


def _keys_one_by_one(lines: List[bytes], first: int, source: str) -> Tuple[List[int], List[bytes]]:
    keys, kept = [], []
    for lineno, line in enumerate(lines, first):
        if not line.strip():
            continue  # blank lines separate processes in by-process output
        try:
            keys.append(timestamp_of_line(line))
        except ValueError as err:
            raise ParseError(source, lineno, str(err)) from None
        kept.append(line)
    return keys, kept


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}


def parse_duration(text: str) -> Optional[int]:
    """'500ms', '2s', '1.5s', '250us', 'inf' -> nanoseconds (None for inf)."""
    text = text.strip().lower()
    if text in ("inf", "infinity", "none"):
        return None
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            number = text[: -len(unit)]
            break
    else:
        raise ValueError(f"{text!r} needs a unit: ns, us, ms, s or m (or 'inf')")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration such as 500ms, 2s or inf") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a duration such as 500ms, 2s or inf")
    return int(round(value * _UNITS[unit]))


def format_duration(ns: int) -> str:
    """A readable --window value at least as large as `ns` (rounded up)."""
    for unit, size in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns >= size:
            return f"{-(-ns // size)}{unit}"
    return f"{ns}ns"
