"""The bounded-window reordering stage: (keys, items) batches in, items in key order out.

bpftrace hands events over from per-CPU buffers, so they arrive slightly out
of order: a Fork can come after its child's Exec.  The disorder is bounded,
so a full sort is not needed: an item is held only until every item that
could still come before it has had `window_ns` of key time to arrive.
Memory is therefore bounded by the items inside the window (plus the batch
being read), not by the length of the input.

Each batch is sorted on its own (where it was read, in a helper process for
a large file: see parallel.py) and held as a sorted run.  Held runs are
merged with a heap of `(first key, arrival number, run)` entries: the
arrival number breaks ties, so items are never compared and equal keys
keep their arrival order.  Since disorder is bounded, runs overlap by a few
items only, so the run at the top of the heap is written in one slice up to
the next run's first key: a heap operation per run, not per item.

The sorter knows nothing of the format.  A batch's items are opaque, and a
run may also be a Run: many lines in one bytes object, split only where
another run reaches into it; the caller says how to read a Run's keys.

    sort_batches([([5, 3], ["b", "a"]), ([9], ["c"])], window_ns=1) -> ["a", "b"], ["c"]
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from itertools import islice
from operator import itemgetter, le

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

__all__ = ["SortStats", "Run", "make_run", "sort_batches", "parse_duration", "format_duration"]


class SortStats:
    """What the stage saw: how many items came later than the window allowed."""

    __slots__ = ("late", "needed_window_ns")

    def __init__(self, late: int = 0, needed_window_ns: int = 0):
        self.late = late
        # the smallest window that would have kept every late item in order
        self.needed_window_ns = needed_window_ns

    def __repr__(self) -> str:
        return f"SortStats(late={self.late}, needed_window_ns={self.needed_window_ns})"


class Run(bytes):
    """Lines already in key order, kept as one bytes object.

    A chunk read in order (what `record` writes), or sorted where it was
    read, is held and written whole: no list of lines, no join.  `keys` are
    its lines' keys, or None until they are needed (only to split it).
    """

    keys: Optional[List[int]] = None


def make_run(text, keys: Optional[List[int]] = None) -> Run:
    """A Run of `text` (bytes, or a memoryview, copied once here)."""
    run = Run(text)
    run.keys = keys
    return run


def _sorted(keys: List[int], items: list) -> Tuple[List[int], list]:
    """Keys and items in key order; equal keys keep their order."""
    if all(map(le, keys, islice(keys, 1, None))):
        return keys, items
    order = sorted(range(len(keys)), key=keys.__getitem__)
    pick = itemgetter(*order)
    return list(pick(keys)), list(pick(items))


class _Held:
    """A sorted run waiting in the heap: a list of items or a Run, from item `start` on.

    Writing part of a run moves `start` (and, in a Run, the byte offset
    `pos`) instead of cutting the rest off: the rest is not copied however
    many times other runs interleave with it.
    """

    __slots__ = ("keys", "items", "last", "start", "pos")

    def __init__(self, keys: Optional[List[int]], items, last: int):
        self.keys = keys    # None for a Run whose keys are not read yet
        self.items = items
        self.last = last
        self.start = 0
        self.pos = 0

    def rest(self) -> list:
        """Every item from `start` on, as a batch holds them."""
        items = self.items
        if type(items) is not Run:
            return items if not self.start else items[self.start:]
        return [items if not self.pos else make_run(memoryview(items)[self.pos:])]

    def take(self, cut: int) -> list:
        """The items from `start` up to `cut`, which stay behind no more."""
        items, start = self.items, self.start
        self.start = cut
        if type(items) is not Run:
            return items[start:cut]
        # the newline after item cut - 1, found from whichever end is nearer
        behind = len(self.keys) - cut
        if cut - start <= behind:
            end = self.pos - 1
            for _ in range(cut - start):
                end = items.index(b"\n", end + 1)
        else:
            end = len(items)
            for _ in range(behind):
                end = items.rindex(b"\n", 0, end)
        head = make_run(memoryview(items)[self.pos:end])
        self.pos = end + 1
        return [head]


def sort_batches(batches: Iterable[Tuple[Sequence[int], Sequence]], *, window_ns: Optional[int],
                 stats: Optional[SortStats] = None,
                 keys_of_run: Callable[[bytes], List[int]] = lambda run: []) -> Iterator[list]:
    """(keys, items) batches in arrival order -> lists of items in key order.

    `window_ns=None` means an infinite window: a full sort at the end.  Late
    items (older than something already written) are still written, at the
    first chance, and counted in `stats`.  A batch may also be
    ((first key, last key), Run): lines in order, held as one item;
    `keys_of_run` reads a Run's keys when it must be split.
    """
    stats = stats if stats is not None else SortStats()
    heap: list = []        # (first key, arrival number, _Held)
    arrivals = 0
    newest = None          # largest key seen so far
    largest_written = None  # largest key written so far (a late item written after it is smaller)
    for keys, items in batches:
        if not keys:
            continue
        if type(items) is Run:
            first, last = keys[0], keys[-1]
            held = _Held(items.keys, items, last)
        else:
            keys, items = _sorted(list(keys), list(items))
            first, last = keys[0], keys[-1]
            held = _Held(keys, items, last)
        if largest_written is not None and first < largest_written:
            if held.keys is None:
                held.keys = keys_of_run(items)
            stats.late += bisect_left(held.keys, largest_written)
            stats.needed_window_ns = max(stats.needed_window_ns, newest - first)
        heapq.heappush(heap, (first, arrivals, held))
        arrivals += 1
        newest = last if newest is None or last > newest else newest
        if window_ns is None:
            continue
        out = _write(heap, newest - window_ns, keys_of_run)
        if out:
            if largest_written is None or out[1] > largest_written:
                largest_written = out[1]
            yield out[0]
    if heap:
        yield _write(heap, None, keys_of_run)[0]


def _write(heap: list, limit: Optional[int], keys_of_run) -> Optional[Tuple[list, int]]:
    """Take every held item with a key up to `limit` (None: all), in order,
    and the key of the last one; None when there is none."""
    out: list = []
    last_key = None
    while heap and (limit is None or heap[0][0] <= limit):
        first, arrival, held = heapq.heappop(heap)
        # this run's items may go up to the next run's first key; at that key,
        # only if this run came first
        if heap:
            bound, inclusive = heap[0][0], arrival < heap[0][1]
        else:
            bound, inclusive = None, True
        at_limit = limit is not None and (bound is None or limit < bound)
        if at_limit:
            bound, inclusive = limit, True
        if bound is None or held.last < bound or held.last == bound and inclusive:
            out += held.rest()
            last_key = held.last
            continue
        if at_limit and type(held.items) is Run:
            # a Run waits whole until the window has passed its last line:
            # cutting each one at the window's edge would read every key
            heapq.heappush(heap, (first, arrival, held))
            break
        keys = held.keys
        if keys is None:
            keys = held.keys = keys_of_run(held.items)
        cut = (bisect_right if inclusive else bisect_left)(keys, bound, held.start)
        last_key = keys[cut - 1]
        out += held.take(cut)
        heapq.heappush(heap, (keys[cut], arrival, held))
    return (out, last_key) if out else None


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
