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
import re
from operator import itemgetter
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from proctrace.events import ParseError, timestamp_of_line

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


class Run(bytes):
    """Lines already in key order, kept as the one bytes object they were read in.

    A sorted chunk of a recording (what `record` writes) is held and written
    whole: no split into lines, no join.  `keys` are its lines' keys.  Should
    a later batch reach back into it, it is split into lines again.
    """

    keys: List[int]


def _make_run(lines: bytes, keys: List[int]) -> Run:
    run = Run(lines)
    run.keys = keys
    return run


def _explode(keys: List[int], items: list) -> Tuple[List[int], list]:
    """Held keys and items with every Run split back into its lines."""
    if not any(type(item) is Run for item in items):
        return keys, items
    out_keys: List[int] = []
    out: list = []
    for key, item in zip(keys, items):
        if type(item) is Run:
            out_keys += item.keys
            out += item.split(b"\n")
        else:
            out_keys.append(key)
            out.append(item)
    return out_keys, out


def sort_batches(batches: Iterable[Tuple[Sequence[int], Sequence]], *, window_ns: Optional[int],
                 stats: Optional[SortStats] = None) -> Iterator[list]:
    """(keys, items) batches in arrival order -> lists of items in key order.

    `window_ns=None` means an infinite window: a full sort at the end.  Late
    items (older than something already written) are still written, at the
    first chance, and counted in `stats`.  A batch may also be (keys, Run):
    sorted lines held as one item, under the key of its last line.
    """
    stats = stats if stats is not None else SortStats()
    held_keys: List[int] = []
    held: list = []
    newest = None          # largest key seen so far
    last_written = None    # key of the last item written
    for keys, items in batches:
        if not keys:
            continue
        if type(items) is Run:
            if (not held_keys or held_keys[-1] <= keys[0]) and (last_written is None or last_written <= keys[0]):
                held_keys.append(keys[-1])
                held.append(items)
                keys = None
            else:
                items = items.split(b"\n")
        if keys is not None:
            keys = list(keys)
            items = list(items)
            if held_keys and keys[0] < held_keys[-1] or keys != sorted(keys):
                # Only the held tail that the batch overlaps needs merging: with
                # bounded disorder that is a few events, not the whole window.
                start = bisect_right(held_keys, min(keys))
                tail_keys, tail = _explode(held_keys[start:], held[start:])
                keys, items = _reorder(tail_keys + keys, tail + items)
                del held_keys[start:], held[start:]
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


# {"Exec":{"timestamp":45062404,...}}: the key, found by a literal search.
# A string value cannot hold it unescaped, so each line has it at most once
# and a count equal to the line count means each line has it exactly once.
_KEY = re.compile(rb'\{"timestamp":([0-9]+)')


def keyed_line_batches(chunks: Iterable[bytes], *, source: str) -> Iterator[Tuple[List[int], Sequence[bytes]]]:
    """Chunks of whole lines -> (timestamps, lines or a Run) for sort_batches.

    Only the timestamp is read, and that a chunk's last line ends its object
    (a recording cut short is an error, not something to pass on); the lines
    themselves pass through untouched.  A line without a readable timestamp
    raises ParseError naming it.
    """
    lineno = 1
    for body in chunks:
        ended = body.endswith(b"\n")
        text = body[:-1] if ended else body
        count = text.count(b"\n") + 1
        first, lineno = lineno, lineno + count
        keys = list(map(int, _KEY.findall(text)))
        # a last line cut short (a recorder killed mid-write) must not pass as an event
        if len(keys) == count and text.endswith(b"}}"):
            if keys == sorted(keys):
                yield keys, _make_run(text, keys)
            else:
                yield keys, text.split(b"\n")
            continue
        yield _keys_one_by_one(text.split(b"\n"), first, source)


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
