"""One self-contained HTML page of the recording: header, critical path, concurrency, timeline, tables.

The page works offline and loads nothing: its CSS and JavaScript (the
files in proctrace/render/page/) are inlined, and the recording's data is
embedded as JSON in a `<script type="application/json">` element, in
columns (one array a field, every process in tree order; times in ns from
the first event, most of them as differences, which are short; each
distinct argv and filename stored once), so that a process costs 55 to 100
bytes plus its argv text.  The script draws only what is on screen, on
canvases the size of the window, so a page of 300,000 processes opens and
one of 10,000 scrolls smoothly.

argv is text from whoever ran the command: in the data, `<`, `>`, `&`,
U+2028 and U+2029 are JSON escapes (argv can hold `</script>`), and the
script shows every string as text (textContent, canvas fillText), never
as markup.

    <script type="application/json" id="proctrace-data">{"n":3,"parent":[0,1,2],...}</script>
"""

from __future__ import annotations

from array import array
from importlib import resources
from itertools import accumulate, chain, compress, count, islice, repeat
from operator import itemgetter, sub

from proctrace.analysis import Concurrency, critical_path, end_of, outlived, own_times_of
from proctrace.errors import ProctraceError
from proctrace.model import collector_paused, raw_fields_of
from proctrace.render.timeline import exec_columns, exit_columns, tree_order

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Sequence

    from proctrace.model import Process, Recording

__all__ = ["render", "SCRIPTS"]

_BATCH = 16384  # processes whose execs are read at a time
_SLICE = 65536  # numbers written at a time
SCRIPTS = ("format.js", "data.js", "draw.js", "tables.js", "page.js", "controls.js")
_STYLE = "page.css"
# what JSON may hold inside a string but a <script> element may not (or an old parser mistakes for a line end)
_UNSAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"), ("\u2028".encode(), b"\\u2028"),
           ("\u2029".encode(), b"\\u2029"))


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> one HTML page."""
    page = resources.files("proctrace.render").joinpath("page")
    style = page.joinpath(_STYLE).read_text("utf-8")
    # one scope for all of them, so that nothing of theirs is global
    script = '(function () {\n"use strict";\n%s\nstart();\n})();\n' % "\n".join(
        page.joinpath(name).read_text("utf-8") for name in SCRIPTS)
    yield (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           b'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           b'<title>proctrace timeline</title>\n<style>\n%s</style>\n</head>\n<body>\n'
           b'<noscript>This page draws the recording with JavaScript: allow it to see the timeline.</noscript>\n'
           b'<script type="application/json" id="proctrace-data">' % style.encode("utf-8"))
    with collector_paused():  # (the tables made here hold no cycles: nothing to collect)
        yield from _data(recording)
    yield b'</script>\n<script>\n%s</script>\n</body>\n</html>\n' % script.encode("utf-8")


def _ints(values: Iterable[int]) -> bytes:
    """Numbers as JSON array members, made a slice at a time (a list of 333,333 little texts
    would cost more than the model's growth), by the list's own repr (twice as fast as a
    format per number)."""
    values = iter(values)
    pieces = []
    while True:
        piece = list(islice(values, _SLICE))
        if not piece:
            return b",".join(pieces)
        pieces.append(repr(piece)[1:-1].replace(" ", "").encode("ascii"))


def _deltas(values: Iterable[int]) -> Iterator[int]:
    """Each value less the one before it (the first less 0)."""
    previous = 0
    for value in values:
        yield value - previous
        previous = value


def _safe(text: bytes) -> bytes:
    for unsafe, escape in _UNSAFE:
        if unsafe in text:
            text = text.replace(unsafe, escape)
    return text


def _data(recording: Recording) -> Iterator[bytes]:
    """The recording as the page's JSON, in pieces (each one safe inside a <script> element).

    Each column is made in one pass and written out before the next is
    made: at a million events a list of tuples a process would cost more
    memory than the model itself.
    """
    procs, parents = tree_order(recording)
    first, last = recording.first_ns, recording.last_ns
    yield b'{"version":1,"span":%d,"lost":%d,"hidden":%d,"hidden_below":%d,"n":%d,' % (
        last - first, recording.lost_count, recording.hidden, recording.hidden_below_ns, len(procs))
    # first, while little else is held: the analysis's tables of every process are the largest
    # each process's weighted time read off one sweep (weighted_times' table of every time
    # would take 80 MB at 1M events), before anything else has taken room
    sweep = Concurrency(recording, procs)
    yield b'"weighted":[%s],' % _ints(map(round, sweep.weights))
    peak, when = sweep.peak, sweep.peak_ns
    del sweep
    own = own_times_of(procs, recording)
    yield b'"own":[%s],' % _ints(own)
    del own
    yield b'"parent":[%s],' % _ints(index - parent if parent >= 0 else 0 for index, parent in enumerate(parents))
    yield b'"start":[%s],' % _ints(_deltas(proc.start_ns - first for proc in procs))
    yield b'"dur":[%s],' % _ints(proc.end_ns - proc.start_ns if proc.end_ns is not None else -1 for proc in procs)
    yield b'"pid":[%s],' % _ints(_deltas(proc.pid for proc in procs))
    yield b'"unforked":[%s],' % _ints(index for index, proc in enumerate(procs) if not proc.forked)
    yield b'"root_ppid":[%s],' % b",".join(b"[%d,%d]" % (index, procs[index].ppid)
                                           for index, parent in enumerate(parents) if parent < 0)
    # groups and sessions at the exit; where it does not say, the last exec's (read with the execs)
    exits = exit_columns(procs)  # (shared tuples: most processes end alike)
    try:  # (machine integers: a list of ids costs four times the memory)
        pgids = array("q", [int(pgid) if pgid else -1 for pgid, _, _, _ in exits])
        sids = array("q", [int(sid) if sid else -1 for _, sid, _, _ in exits])
        yield from _execs(procs, pgids, sids)
        yield from _groups_and_status(procs, parents, exits, pgids, sids)
    except OverflowError:  # a kernel's ids have 32 bits; the page's script would round these anyway
        raise ProctraceError("html: a process group or session id in the recording does not fit in 64 bits") \
            from None
    del exits, pgids, sids
    wanted = {proc for proc in procs if proc.changes}
    segments, root, past = _path_and_outlived(recording)
    wanted.update(segment.proc for segment in segments)
    wanted.update(proc for proc, _ in past)
    if root is not None:
        wanted.add(root)
    where = {proc: index for index, proc in enumerate(procs) if proc in wanted}  # only the ones named below
    changes = [(where[proc], change) for proc in procs if proc.changes for change in proc.changes]
    yield b'"changes":[%s],' % b",".join(
        b"[%d,%d,%d,%s]" % (index, change.timestamp - first, change.kind == "setpgid", _ints(
            [change.pgid] + ([change.sid] if change.sid is not None else []))) for index, change in changes)
    yield b'"critical":{"proc":[%s],"start":[%s],"exec":[%s]},' % (
        _ints(where[segment.proc] for segment in segments),
        _ints(_deltas(segment.start_ns - first for segment in segments)), _ints(map(_exec_number, segments)))
    del segments
    yield b'"peak":[%d,%d],"root":%d,"root_end":%d,"outlived":[%s]}' % (
        peak, when - first, where[root] if root is not None else -1,
        (end_of(root, recording) - first) if root is not None else 0,
        b",".join(b"[%d,%d]" % (where[proc], after) for proc, after in past))


def _groups_and_status(procs: List[Process], parents: Sequence[int], exits, pgids, sids) -> Iterator[bytes]:
    """Groups and sessions (else the group at the fork), as differences from the parent's;
    the exit code, or minus the signal, or null for a process with no exit."""
    for index in [index for index, pgid in enumerate(pgids) if pgid < 0]:
        if procs[index].start_pgid is not None:
            pgids[index] = procs[index].start_pgid
    yield b'"pgid":[%s],"sid":[%s],' % (_ints(_from_parent(pgids, parents)), _ints(_from_parent(sids, parents)))
    yield b'"status":[%s],"status_unknown":[%s],' % (b",".join(
        [code if code and code != b"null" else b"-" + signal if signal and signal != b"null" else
         (b"0" if pgid else b"null") for pgid, _, code, signal in exits]),
        _ints(index for index, (pgid, _, code, _) in enumerate(exits) if pgid and not code))


def _execs(procs: List[Process], pgids, sids) -> Iterator[bytes]:
    """Each distinct argv once (as the recording has it), written as it is first met, then the
    execs' columns; each distinct filename once.  Unknown pgids and sids (-1) are filled in
    from the last exec."""
    # (argv_table maps an exec's text to its argv's place in the page's table)
    argv_table: Dict[bytes, int] = {}
    file_table: Dict[bytes, int] = {b"": -1}
    counts, at, argv, files, truncated = [], [], [], [], []
    previous = done = 0
    yield b'"argv":['
    for begin in range(0, len(procs), _BATCH):
        part = procs[begin:begin + _BATCH]
        execs = [proc.execs for proc in part]  # (each call makes a list)
        numbers = list(map(len, execs))
        counts.append(_ints(numbers))
        steps = list(chain.from_iterable(execs))
        owners = chain.from_iterable(map(repeat, [proc.start_ns for proc in part], numbers))
        del execs
        at.append(_ints(map(sub, [step.timestamp for step in steps], owners)))
        columns = exec_columns(steps)
        rests = raw_fields_of(steps)
        # a group and session the exit does not say: the last exec's
        for offset, end in compress(zip(count(begin), accumulate(numbers)), numbers):
            if pgids[offset] < 0 or sids[offset] < 0:
                pgid, _, _, sid, _ = columns[end - 1]
                if pgids[offset] < 0:
                    pgids[offset] = int(pgid)
                if sids[offset] < 0 and sid:
                    sids[offset] = int(sid)
        known = len(argv_table)
        # an exec's whole text stands for its argv: the model holds it already, where a table
        # of argv cut out of it would hold a copy of each (50 MB at 1M events); an argv
        # that recurs with another group or file name is stored again
        ids = [argv_table.setdefault(rest, len(argv_table)) for rest in rests]
        del rests
        if len(argv_table) > known:
            new = {index: cmdline for (_, cmdline, _, _, _), index in zip(columns, ids) if index >= known}
            yield (b"," if known else b"") + _safe(b",".join(new.values()))
        argv.append(_ints(map(sub, ids, [previous] + ids[:-1])))
        previous = ids[-1] if ids else previous
        files.append(_ints([file_table.setdefault(name, len(file_table) - 1) for _, _, name, _, _ in columns]))
        truncated.extend(compress(count(done), map(itemgetter(4), columns)))
        done += len(steps)
    del argv_table, file_table[b""]
    yield b'],"files":[%s],' % _safe(b",".join(file_table))
    yield b'"nexec":[%s],"exec_at":[%s],' % (_join(counts), _join(at))
    yield b'"exec_argv":[%s],"exec_file":[%s],"truncated":[%s],' % (_join(argv), _join(files), _ints(truncated))


def _join(pieces: List[bytes]) -> bytes:
    return b",".join(piece for piece in pieces if piece)


def _from_parent(values, parents: List[int]) -> List[int]:
    """Each value less its parent's (so that the usual case, the same group, is a 0)."""
    return [value - values[parent] if parent >= 0 else value for value, parent in zip(values, parents)]


def _path_and_outlived(recording: Recording):
    """The root's critical path and the processes that outlived it."""
    root = recording.roots[0] if recording.roots else None
    if root is None:
        return [], None, []
    # the segments' near siblings are not shown: no slack to look for them in
    return critical_path(recording, root, slack_ns=0), root, outlived(recording, root)


def _exec_number(segment) -> int:
    """Which of its process's execs a critical path segment ran (-1: what it was forked with)."""
    for number, step in enumerate(segment.proc.execs):
        if step is segment.step:
            return number
    return -1
