"""Each subcommand's chain of stages, from an open input to what it writes.

    chunks (reader, parallel) -> scanned or decoded batches -> sort -> legacy merge
        -> lines (a `lines` format) or fold items -> model (a `tree` format) -> renderer

A chunk of whole lines is scanned by a pure function of canonical.py (in a
helper process for a large file); a chunk the scanner declines takes the
general path here: each line decoded by events.from_json, its number kept
for errors.  Both give the sorter (keys, items) batches.  After the sort,
the original's ExecArgs and ExecFilename are merged into their Exec (only a
declined chunk holds them, and every line of a declined chunk is an
event), and events become what the format takes: canonical lines, or fold
items for the model.  Stages never open files, print or exit: problems
are raised (ParseError) or told to `warn`.
"""

from __future__ import annotations

from proctrace import canonical
from proctrace.errors import ParseError, ProctraceError
from proctrace.events import (LEGACY, Exec, Exit, Fork, Lost, SetPGID, SetSID, UnknownKind, as_line, from_json,
                              merge_legacy, timestamp_of_line, to_json)
from proctrace.model import Recording, fold
from proctrace.selection import hide_short_leaves, narrowed
from proctrace.parallel import prepared_chunks
from proctrace.render import FORMATS, RenderOptions, get_renderer
from proctrace.sort import SortStats, make_run, sort_batches

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple

__all__ = ["sort_recording", "render_recording", "read_model", "items_of_events"]

_BOM = b"\xef\xbb\xbf"


def sort_recording(stream: BinaryIO, *, source: str, window_ns: Optional[int],
                   stats: SortStats) -> Iterator[list]:
    """A recording -> batches of its lines (bytes, or Runs of many) in timestamp order, unchanged."""
    batches = _require_events(_keyed_lines(prepared_chunks(stream, canonical.chunk_keys), source), source)
    return sort_batches(batches, window_ns=window_ns, stats=stats, keys_of_run=canonical.run_keys)


def _keyed_lines(prepared: Iterable[Tuple[bytes, object]], source: str) -> Iterator[tuple]:
    lineno = 1
    for body, keys in prepared:
        end = len(body) - 1 if body.endswith(b"\n") else len(body)  # the text is body[:end]
        if keys is None:
            lines = canonical.lines_of(body)
            first, lineno = lineno, lineno + len(lines)
            yield _keys_one_by_one(lines, first, source)
        elif len(keys) == 3:  # in order as read: (count, first key, last key)
            lineno += keys[0]
            # a view, not a copy: the chunk is copied once, into its Run
            yield (keys[1], keys[2]), make_run(memoryview(body)[:end])
        else:
            text, key_array = keys
            lineno += len(key_array)
            key_list = key_array.tolist()
            yield (key_list[0], key_list[-1]), make_run(text, key_list)


def _keys_one_by_one(lines: List[bytes], first: int, source: str) -> Tuple[List[int], List[bytes]]:
    keys, kept = [], []
    for lineno, line in enumerate(lines, first):
        if lineno == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]  # written by some editors: dropped by every stage
        if not line.strip():
            continue  # blank lines separate processes in by-process output
        try:
            keys.append(timestamp_of_line(line))
        except ValueError as err:
            raise ParseError(source, lineno, str(err)) from None
        kept.append(line)
    return keys, kept


def render_recording(stream: BinaryIO, name: str, *, source: str, window_ns: Optional[int], stats: SortStats,
                     warn: Callable[[str], None], options: RenderOptions) -> Iterator[bytes]:
    """A recording -> the bytes of format `name`."""
    spec = FORMATS[name]
    render = get_renderer(name)
    if spec.kind == "tree":
        recording = read_model(stream, source=source, window_ns=window_ns, stats=stats, warn=warn,
                               share=spec.helper_share)
        yield from render(_selected(recording, options, source, warn), warn=warn, options=options)
        return
    lost: List[int] = []
    scan = canonical.sorted_chunk if spec.whole_lines else canonical.chunk_order
    batches = _scanned(prepared_chunks(stream, scan, share=spec.helper_share), source, warn,
                       _unpack_lines(spec.whole_lines, lost.append), lost.append)
    ordered = sort_batches(_require_events(batches, source), window_ns=window_ns, stats=stats,
                           keys_of_run=canonical.run_keys)
    yield from render(_as_lines(_merged(ordered, warn)), warn=warn, options=options)
    if lost:
        warn(f"the recording is incomplete: the kernel lost {sum(lost)} events")


def read_model(stream: BinaryIO, *, source: str, window_ns: Optional[int], stats: SortStats,
               warn: Callable[[str], None], share: Tuple[int, int] = (2, 3)) -> Recording:
    """A recording -> its process model, with a warning for what it is missing."""
    batches = _scanned(prepared_chunks(stream, canonical.fold_columns, share=share), source, warn,
                       _unpack_items, lambda count: None)
    ordered = sort_batches(_require_events(batches, source), window_ns=window_ns, stats=stats)
    recording = fold(_as_items(_merged(ordered, warn)), warn=warn)
    _warn_missing(recording, warn)
    return recording


def _warn_missing(recording: Recording, warn: Callable[[str], None]) -> None:
    if recording.lost:
        warn(f"the recording is incomplete: the kernel lost {recording.lost_count} events")
    running = sum(proc.end_ns is None for proc in recording.processes)
    if running:
        warn(f"{running} processes have no exit in the recording: drawn until its last event")
    unforked = len(recording.unforked())
    if unforked:
        warn(f"{unforked} processes have events but no fork in the recording: they started before it")


def _selected(recording: Recording, options: RenderOptions, source: str, warn: Callable[[str], None]) -> Recording:
    """The part of the recording the options ask for: --pid's subtree, without --min-duration's short leaves."""
    if options.pid is not None:
        found = [proc for proc in recording.processes if proc.pid == options.pid]
        if not found:
            raise ProctraceError(f"{source}: no process with pid {options.pid} in the recording")
        if len(found) > 1:
            warn(f"pid {options.pid} was used by {len(found)} processes: showing the first")
        recording = narrowed(recording, found[0])
    if options.min_duration_ns:
        hide_short_leaves(recording, options.min_duration_ns)
    return recording


def _unpack_lines(whole: bool, on_lost: Callable[[int], None]):
    """How a line format's scanned chunk becomes (its line count, a batch): a Run, or its lines in order."""
    def unpack(body: bytes, scanned) -> tuple:
        if whole:
            text, keys, has_lost = scanned
            keys = keys.tolist()
            batch = (keys[0], keys[-1]), make_run(text, keys)
        else:
            keys, order, has_lost = scanned
            lines = canonical.lines_of(body)
            if order is not None:
                lines = [lines[index] for index in order]
            keys = keys.tolist()
            batch = keys, lines
        if has_lost:
            for count in canonical.lost_counts(body):
                on_lost(count)
        return len(keys), batch
    return unpack


def _unpack_items(body: bytes, scanned) -> tuple:
    keys, columns = scanned
    keys = keys.tolist()
    return len(keys), (keys, list(canonical.fold_items(keys, columns)))


def _scanned(prepared: Iterable[Tuple[bytes, object]], source: str, warn: Callable[[str], None],
             unpack: Callable[[bytes, object], tuple], on_lost: Callable[[int], None]) -> Iterator[tuple]:
    """(chunk, scanner's result) pairs -> (keys, items) batches; declined chunks are decoded line by line."""
    warned: set = set()
    lineno = 1
    for body, scanned in prepared:
        if scanned is not None:
            lines, batch = unpack(body, scanned)
            lineno += lines
            yield batch
            continue
        lines = canonical.lines_of(body)
        first, lineno = lineno, lineno + len(lines)
        keys, events = [], []
        for number, line in enumerate(lines, first):
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]  # written by some editors: dropped by every stage
            if not line.strip():
                continue  # by-process output has blank lines
            event = _decoded(line, number, source, warned, warn)
            if event is None:
                continue
            if type(event) is Lost:
                on_lost(event.count)
            keys.append(event.timestamp)
            events.append(event)
        if events:
            yield keys, events


def _decoded(line: bytes, lineno: int, source: str, warned: set, warn: Callable[[str], None]):
    """One line of a declined chunk -> an event, a legacy record, None (skip), or ParseError."""
    try:
        return from_json(line)
    except UnknownKind as unknown:
        if unknown.kind not in warned:
            warned.add(unknown.kind)
            warn(f"{source}:{lineno}: skipping events of unknown kind {unknown.kind!r}")
        return None
    except ValueError as err:
        raise ParseError(source, lineno, str(err)) from None


def _require_events(batches: Iterable[tuple], source: str) -> Iterator[tuple]:
    """Pass batches through; an input with no event at all is an error, not an empty result."""
    seen = False
    for keys, items in batches:
        seen = seen or bool(keys)
        yield keys, items
    if not seen:
        raise ParseError(source, None, "no events: the recording is empty")


def _merged(batches: Iterable[list], warn: Optional[Callable[[str], None]] = None) -> Iterator[list]:
    """Sorted batches with each legacy ExecArgs/ExecFilename merged into the Exec before it.

    A batch's last Exec event waits for the next batch, which may hold its
    ExecArgs; only events need it (a chunk with an empty cmdline is declined
    by every scanner, so its lines are all events).  One that follows no
    Exec of its pid and time fills nothing, and `warn` is told how many.
    """
    carry: list = []
    unmatched: list = []
    for batch in batches:
        if carry:
            batch = carry + batch
            carry = []
        if not _LEGACY_TYPES.isdisjoint(map(type, batch)):
            batch = list(_merge_flat(batch, unmatched))
        if batch and type(batch[-1]) is Exec:
            carry.append(batch.pop())
        if batch:
            yield batch
    if carry:
        yield carry
    if unmatched and warn is not None:
        warn(f"{len(unmatched)} ExecArgs or ExecFilename events follow no Exec of their pid and time: ignored "
             f"(the first at {unmatched[0].timestamp} ns, pid {unmatched[0].pid})")


_LEGACY_TYPES = frozenset(LEGACY)


def _merge_flat(records: list, unmatched: list) -> Iterator:
    pending = None
    for record in records:
        if type(record) in LEGACY:
            merged = merge_legacy(pending, record) if pending is not None else None
            if merged is None:
                unmatched.append(record)
            else:
                pending = merged
            continue
        if pending is not None:
            yield pending
            pending = None
        if type(record) is Exec:
            pending = record
        else:
            yield record
    if pending is not None:
        yield pending


def _as_lines(batches: Iterable[list]) -> Iterator[list]:
    """Batches of lines, with every event written as its canonical line."""
    for batch in batches:
        if not all(map(_is_bytes, batch)):
            batch = list(map(as_line, batch))
        yield batch


_is_bytes = bytes.__instancecheck__  # a Run is bytes too
_is_tuple = tuple.__instancecheck__


def _as_items(batches: Iterable[list]) -> Iterator[list]:
    """Batches of fold items, with every event made into the item its line would give."""
    for batch in batches:
        if all(map(_is_tuple, batch)):
            yield batch
        else:
            yield [item if type(item) is tuple else next(items_of_events([item])) for item in batch]


_CODES = {Fork: canonical.FORK, Exec: canonical.EXEC, Exit: canonical.EXIT, SetSID: canonical.SETSID,
          SetPGID: canonical.SETPGID, Lost: canonical.LOST}


def items_of_events(events: Iterable) -> Iterator[tuple]:
    """Decoded events -> the fold items canonical.fold_columns makes of their lines."""
    for event in events:
        kind = type(event)
        if kind is Lost:
            yield canonical.LOST, event.timestamp, event.count, event.count, b""
            continue
        line = to_json(event).encode("utf-8")
        if kind is Fork:
            rest = line[line.index(b',"parent_pgid":') + 1:-2]
            yield canonical.FORK, event.timestamp, event.child_pid, event.parent_pid, rest
        else:
            rest = line[line.index(b',"pgid":') + 1:-2]  # pgid comes before any string field
            yield _CODES[kind], event.timestamp, event.pid, event.ppid, rest
