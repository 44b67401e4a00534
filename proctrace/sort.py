"""The bounded-window reordering stage: events in, the same events in timestamp order out.

bpftrace hands events over from per-CPU buffers, so they arrive slightly out
of order: a FORK line can come after its child's EXEC.  The disorder is
bounded, so a full sort is not needed: an event is held only until every
event that could still come before it has had `window_ns` of event time to
arrive.  Memory is therefore bounded by the events inside the window (plus
the batch being read), not by the length of the recording.

Work is done a chunk at a time, with a regex, `sorted`, `bisect` and
`itemgetter` doing the per-event loops in C.  Each chunk is sorted on its
own where it is read (in a helper process for a large file: see
parallel.py) and held as one bytes object, a Run; since disorder is
bounded, consecutive chunks overlap by a few lines only, and only those are
split off and merged.  Ties keep their arrival order (Python's sort is
stable and held events always precede newer ones).

    sort_batches([([5, 3], ["b", "a"]), ([9], ["c"])], window_ns=1) -> ["a", "b"], ["c"]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
import re
from array import array
from itertools import islice
from operator import itemgetter, le

from proctrace.errors import ParseError
from proctrace.reader import lines_of

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

__all__ = ["SortStats", "sort_batches", "keyed_line_batches", "keyed_prepared_batches", "chunk_keys", "sorted_lines", "as_run", "timestamp_of_line", "parse_duration", "format_duration"]


class SortStats:
    """What the stage saw: how many events came later than the window allowed."""

    __slots__ = ("late", "needed_window_ns")

    def __init__(self, late: int = 0, needed_window_ns: int = 0):
        self.late = late
        # the smallest window that would have kept every late event in order
        self.needed_window_ns = needed_window_ns

    def __repr__(self) -> str:
        return f"SortStats(late={self.late}, needed_window_ns={self.needed_window_ns})"


def _reorder(keys: List[int], items: list) -> Tuple[List[int], list]:
    """Keys and items in key order; equal keys keep their order."""
    order = sorting_order(keys)
    if order is None:
        return keys, items
    pick = itemgetter(*order)
    return list(pick(keys)), list(pick(items))


def sorting_order(keys: Sequence[int]) -> Optional[array]:
    """The order that sorts `keys` (equal keys keep theirs), None when they are sorted."""
    if _ascending(keys):
        return None
    return array("I", sorted(range(len(keys)), key=keys.__getitem__))


def _ascending(keys: Sequence) -> bool:
    """True when no key is smaller than the one before; stops at the first that is."""
    return all(map(le, keys, islice(keys, 1, None)))


class Run(bytes):
    """Lines already in key order, kept as one bytes object.

    A chunk read in order (what `record` writes), or sorted where it was read,
    is held and written whole: no list of lines, no join.  When a later
    batch reaches back into it, only the lines that overlap are split off.
    `keys` are its lines' keys: known when the chunk was sorted, read from
    the lines the first time they are needed when it came in order.
    """

    keys: Optional[List[int]] = None


def _make_run(text, keys: Optional[List[int]] = None) -> Run:
    run = Run(text)  # text: bytes, or a memoryview, copied once here
    run.keys = keys
    return run


def _run_keys(run: Run) -> List[int]:
    if run.keys is None:
        run.keys = list(map(int, _uniform_digits(run, len(run))))
    return run.keys


def _split_run(run: Run, index: int) -> Tuple[Optional[Run], Optional[Run]]:
    """The run's first `index` lines and the rest, each a Run (None when empty)."""
    keys = _run_keys(run)
    if index <= 0:
        return None, run
    if index >= len(keys):
        return run, None
    # find the newline before line `index`, from whichever end is nearer
    if index <= len(keys) - index:
        newline = -1
        for _ in range(index):
            newline = run.index(b"\n", newline + 1)
    else:
        newline = len(run)
        for _ in range(len(keys) - index):
            newline = run.rindex(b"\n", 0, newline)
    view = memoryview(run)
    return _make_run(view[:newline], keys[:index]), _make_run(view[newline + 1:], keys[index:])


def _explode(keys: List[int], items: list) -> Tuple[List[int], list]:
    """Held keys and items with every Run split back into its lines."""
    if not any(type(item) is Run for item in items):
        return keys, items
    out_keys: List[int] = []
    out: list = []
    for key, item in zip(keys, items):
        if type(item) is Run:
            out_keys += _run_keys(item)
            out += item.split(b"\n")
        else:
            out_keys.append(key)
            out.append(item)
    return out_keys, out


def _take_tail(held_keys: List[int], held: list, first: int) -> Tuple[List[int], list]:
    """Remove and return, as lines, the held lines with keys after `first`.

    A held Run that straddles `first` is split: its lines up to `first` stay
    held whole.  With bounded disorder the tail is a few lines, not the window.
    """
    start = bisect_right(held_keys, first)
    if type(held[start]) is Run:
        straddling = held[start]
        cut = bisect_right(_run_keys(straddling), first)
        if cut:
            keep, spilled = _split_run(straddling, cut)
            held[start:start + 1] = [keep, spilled]
            held_keys[start:start + 1] = [keep.keys[-1], spilled.keys[-1]]
            start += 1
    tail_keys, tail = _explode(held_keys[start:], held[start:])
    del held_keys[start:], held[start:]
    return tail_keys, tail


def _merge_lines(held_keys: List[int], held: list, keys: List[int], items: list) -> None:
    """Add sorted lines whose first key is older than the newest held one:
    only where the two overlap is there anything to merge."""
    tail_keys, tail = _take_tail(held_keys, held, keys[0])
    overlap = bisect_left(keys, tail_keys[-1])
    # held lines first among equal keys: they came first
    merged_keys, merged = _reorder(tail_keys + keys[:overlap], tail + items[:overlap])
    held_keys += merged_keys
    held += merged
    held_keys += keys[overlap:]
    held += items[overlap:]


def _merge_run(held_keys: List[int], held: list, run: Run, first: int) -> None:
    """_merge_lines for a Run: only its lines that overlap are split off it."""
    tail_keys, tail = _take_tail(held_keys, held, first)
    head, rest = _split_run(run, bisect_left(_run_keys(run), tail_keys[-1]))
    head_keys, head_lines = _explode([0], [head]) if head is not None else ([], [])
    # held lines first among equal keys: they came first
    merged_keys, merged = _reorder(tail_keys + head_keys, tail + head_lines)
    held_keys += merged_keys
    held += merged
    if rest is not None:
        held_keys.append(rest.keys[-1])
        held.append(rest)


def sort_batches(batches: Iterable[Tuple[Sequence[int], Sequence]], *, window_ns: Optional[int],
                 stats: Optional[SortStats] = None) -> Iterator[list]:
    """(keys, items) batches in arrival order -> lists of items in key order.

    `window_ns=None` means an infinite window: a full sort at the end.  Late
    items (older than something already written) are still written, at the
    first chance, and counted in `stats`.  A batch may also be
    ((first key, last key), Run): sorted lines held as one item, under the
    key of its last line.
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
            # keys is (first, last): the lines in between are known to be in order
            if last_written is not None and keys[0] < last_written:
                keys, items = _explode([0], [items])  # late lines: counted line by line below
            elif not held_keys or held_keys[-1] <= keys[0]:
                held_keys.append(keys[-1])
                held.append(items)
                keys = None
            else:
                _merge_run(held_keys, held, items, keys[0])
                keys = None
        if keys is not None:
            if type(keys) is not list:
                keys = list(keys)
            if type(items) is not list:
                items = list(items)
            keys, items = _reorder(keys, items)
            if held_keys and keys[0] < held_keys[-1]:
                _merge_lines(held_keys, held, keys, items)
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


# {"Exec":{"timestamp":45062404,...}}: the key starts every line, right after
# the kind.  The first line's key gives the width to expect of every key in
# the chunk; keys of one width compare as bytes the way they do as numbers.
_FIRST_KEY = re.compile(rb'\{"[A-Za-z]+":\{"timestamp":([0-9]+)[,}]')


def _keys_of_width(width: int) -> "re.Pattern[bytes]":
    # the key of each line after the first, when it has this width (re caches the compiled pattern)
    return re.compile(rb'\n\{"[A-Za-z]+":\{"timestamp":([0-9]{%d})[,}]' % width)


def keyed_line_batches(chunks: Iterable[bytes], *, source: str) -> Iterator[Tuple[Sequence[int], Sequence[bytes]]]:
    """Chunks of whole lines -> (timestamps, lines) or ((first, last), Run) for sort_batches.

    Only the timestamp is read, and that a chunk's last line ends its object
    (a recording cut short is an error, not something to pass on); the lines
    themselves pass through untouched.  A line without a readable timestamp
    raises ParseError naming it.
    """
    return keyed_prepared_batches(((chunk, chunk_keys(chunk)) for chunk in chunks), source=source)


def keyed_prepared_batches(prepared: Iterable[Tuple[bytes, object]], *,
                           source: str) -> Iterator[Tuple[Sequence[int], Sequence[bytes]]]:
    """keyed_line_batches for (chunk, chunk_keys(chunk)) pairs, however computed (see parallel.py)."""
    lineno = 1
    for body, keys in prepared:
        end = len(body) - 1 if body.endswith(b"\n") else len(body)  # the text is body[:end]
        if keys is None:
            lines = lines_of(body)
            first_line, lineno = lineno, lineno + len(lines)
            yield _keys_one_by_one(lines, first_line, source)
            continue
        if len(keys) == 3:  # in order as read
            count, first, last = keys
            lineno += count
            # a view, not a copy: the chunk is copied once, into its Run
            yield (first, last), _make_run(memoryview(body)[:end])
            continue
        lineno += len(keys[1])
        yield as_run(keys)


def chunk_keys(body: bytes) -> Union[None, Tuple[int, int, int], Tuple[bytes, array]]:
    """The keys of a chunk, read in C: (line count, first, last) when its lines are
    in order, sorted_lines' pair when they are not, None when some line needs
    a closer look.

    A pure function of the chunk, so another process can compute it.
    """
    end = len(body) - 1 if body.endswith(b"\n") else len(body)
    digits = _uniform_digits(body, end)
    if digits is None:
        return None
    if _ascending(digits):
        return len(digits), int(digits[0]), int(digits[-1])
    return sorted_lines(lines_of(body), list(map(int, digits)))


def sorted_lines(lines: List[bytes], keys: List[int]) -> Optional[Tuple[bytes, array]]:
    """A chunk's lines sorted by their `keys` (equal keys keep their order),
    joined again, and the sorted keys as an array (it crosses a pipe 10x
    faster than a list); None beyond 64 bits.

    Sorting and joining a chunk is most of the sorter's work: done where the
    chunk is read, a helper process can take it on (see parallel.py).
    """
    order = sorting_order(keys)
    if order is not None:
        pick = itemgetter(*order)
        keys, lines = pick(keys), pick(lines)
    try:
        return b"\n".join(lines), array("Q", keys)
    except OverflowError:
        return None


def as_run(prepared: Tuple[bytes, array]) -> Tuple[Tuple[int, int], Run]:
    """A sorted_lines result -> ((first, last), Run) for sort_batches."""
    text, keys = prepared
    keys = keys.tolist()
    return (keys[0], keys[-1]), _make_run(text, keys)


def _uniform_digits(body: bytes, end: int) -> Optional[List[bytes]]:
    """Every line's timestamp digits, when every line of body[:end] starts
    with a key of the first line's width and the last line ends its object;
    else None.  Keys of one width compare as bytes as they do as numbers."""
    first = _FIRST_KEY.match(body, 0, end)
    # a last line cut short (a recorder killed mid-write) must not pass as an event
    if first is None or not body.endswith(b"}}", 0, end):
        return None
    digits = _keys_of_width(len(first.group(1))).findall(body, first.end(), end)
    digits.insert(0, first.group(1))
    # one key found after each newline means one at the start of every line
    return digits if len(digits) == body.count(b"\n", 0, end) + 1 else None


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


# {"Exec":{"seq":4,"timestamp":825573691,...}}  -- our writer puts the timestamp
# first, the original's later versions after "seq".
_TIMESTAMP_LINE = re.compile(rb'^[ \t]*\{"[A-Za-z]+":\{(?:"seq":\d+,)?"timestamp":(\d+)(?=[,}])[^\n]*\}\}[ \t\r]*$', re.M)


def timestamp_of_line(line: bytes) -> int:
    """The timestamp of one line in any field order; ValueError when it has none."""
    match = _TIMESTAMP_LINE.match(line)
    if match:
        return int(match.group(1))
    import json  # only lines in other forms need it
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        stripped = line.strip()
        if stripped.startswith(b"{") and not stripped.endswith(b"}"):
            raise ValueError("truncated or malformed JSON") from None
        raise ValueError("not a JSON event") from None
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError("an event must be an object with exactly one key naming its kind")
    (kind, body), = obj.items()
    if not isinstance(body, dict):
        raise ValueError(f"{kind!r} must map to an object of fields")
    if "timestamp" not in body:
        raise ValueError(f"{kind} event has no 'timestamp' field")
    stamp = body["timestamp"]
    if type(stamp) is not int or stamp < 0:
        raise ValueError(f"{kind} field 'timestamp' must be a non-negative integer, not {json.dumps(stamp)[:40]}")
    return stamp


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
