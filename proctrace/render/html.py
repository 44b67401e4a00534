"""One self-contained HTML page of the recording: header, critical path, concurrency, timeline, tables.

The page works offline and loads nothing: its CSS and JavaScript (the
files in proctrace/render/page/) are inlined, and the recording's data is
embedded as JSON in a `<script type="application/json">` element, in
columns (one array a field, every process in tree order; times in ns from
the first event, most of them as differences, which are short; each
distinct argv and filename stored once), so that a process costs some 70
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

from importlib import resources
from itertools import accumulate, chain, repeat
from operator import sub

from proctrace.analysis import critical_path, end_of, outlived, own_times, peak_concurrency, weighted_times
from proctrace.model import raw_fields_of
from proctrace.render.timeline import exec_columns, exit_columns, tree_order

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List

    from proctrace.model import Process, Recording

__all__ = ["render", "SCRIPTS"]

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
    yield from _data(recording)
    yield b'</script>\n<script>\n%s</script>\n</body>\n</html>\n' % script.encode("utf-8")


def _ints(values: Iterable[int]) -> bytes:
    return b",".join(map(b"%d".__mod__, values))


def _deltas(values: List[int]) -> List[int]:
    return list(map(sub, values, [0] + values[:-1]))


def _safe(text: bytes) -> bytes:
    for unsafe, escape in _UNSAFE:
        if unsafe in text:
            text = text.replace(unsafe, escape)
    return text


def _data(recording: Recording) -> Iterator[bytes]:
    """The recording as the page's JSON, in pieces (each one safe inside a <script> element)."""
    procs, parents = tree_order(recording)
    first, last = recording.first_ns, recording.last_ns
    where = dict(zip(procs, range(len(procs))))
    starts = [proc.start_ns - first for proc in procs]
    durations = [proc.end_ns - proc.start_ns if proc.end_ns is not None else -1 for proc in procs]
    pids = [proc.pid for proc in procs]

    # groups and sessions at the exit (else as last known), as differences from the parent's
    exits = exit_columns(procs)
    counts = [len(proc.execs) for proc in procs]
    steps = [step for proc in procs for step in proc.execs]
    execs = exec_columns(steps)
    last_exec = [index - 1 if count else -1 for count, index in zip(counts, accumulate(counts))]
    pgids = [int(pgid) if pgid else _known(proc, execs, at, 0) for (pgid, _, _, _), proc, at in
             zip(exits, procs, last_exec)]
    sids = [int(sid) if sid else _known(proc, execs, at, 3) for (_, sid, _, _), proc, at in
            zip(exits, procs, last_exec)]
    # the exit code, or minus the signal; null for a process with no exit
    status = [code if code and code != b"null" else b"-" + signal if signal and signal != b"null" else
              (b"0" if pgid else b"null") for pgid, _, code, signal in exits]
    unknown = [index for index, (pgid, _, code, _) in enumerate(exits) if pgid and not code]

    argv_table: Dict[bytes, int] = {}
    file_table: Dict[bytes, int] = {b"": -1}
    argv_ids = [argv_table.setdefault(cmdline, len(argv_table)) for _, cmdline, _, _, _ in execs]
    file_ids = [file_table.setdefault(name, len(file_table) - 1) for _, _, name, _, _ in execs]
    owner_starts = list(chain.from_iterable(map(repeat, [proc.start_ns for proc in procs], counts)))
    exec_at = list(map(sub, [step.timestamp for step in steps], owner_starts))
    truncated = [index for index, (*_, cut) in enumerate(execs) if cut]
    del file_table[b""]

    yield b'{"version":1,"span":%d,"lost":%d,"hidden":%d,"hidden_below":%d,"n":%d,' % (
        last - first, recording.lost_count, recording.hidden, recording.hidden_below_ns, len(procs))
    yield b'"parent":[%s],' % _ints(index - parent if parent >= 0 else 0 for index, parent in enumerate(parents))
    yield b'"start":[%s],"dur":[%s],' % (_ints(_deltas(starts)), _ints(durations))
    yield b'"pid":[%s],' % _ints(_deltas(pids))
    yield b'"pgid":[%s],"sid":[%s],' % (_ints(_from_parent(pgids, parents)), _ints(_from_parent(sids, parents)))
    yield b'"status":[%s],"status_unknown":[%s],' % (b",".join(status), _ints(unknown))
    yield b'"unforked":[%s],' % _ints(index for index, proc in enumerate(procs) if not proc.forked)
    yield b'"root_ppid":[%s],' % b",".join(b"[%d,%d]" % (index, procs[index].ppid)
                                           for index, parent in enumerate(parents) if parent < 0)
    yield b'"nexec":[%s],"exec_at":[%s],' % (_ints(counts), _ints(exec_at))
    yield b'"exec_argv":[%s],"exec_file":[%s],"truncated":[%s],' % (
        _ints(_deltas(argv_ids)), _ints(file_ids), _ints(truncated))
    yield b'"argv":[%s],' % _safe(b",".join(argv_table))
    yield b'"files":[%s],' % _safe(b",".join(file_table))
    changes = [(where[proc], change) for proc in procs if proc.changes for change in proc.changes]
    yield b'"changes":[%s],' % b",".join(
        b"[%d,%d,%d,%s]" % (index, change.timestamp - first, change.kind == "setpgid", _ints(
            [change.pgid] + ([change.sid] if change.sid is not None else []))) for index, change in changes)
    yield from _analysis(recording, procs, where, first)
    yield b"}"


def _known(proc: Process, execs, at: int, field: int) -> int:
    """A pgid (field 0) or sid (3) when there is no exit: the last exec's, else the fork's group."""
    if at >= 0 and execs[at][field]:
        return int(execs[at][field])
    if field == 0 and proc.start_pgid is not None:
        return proc.start_pgid
    return -1


def _from_parent(values: List[int], parents: List[int]) -> List[int]:
    """Each value less its parent's (so that the usual case, the same group, is a 0)."""
    return [value - values[parent] if parent >= 0 else value for value, parent in zip(values, parents)]


def _analysis(recording: Recording, procs: List[Process], where: Dict[Process, int], first: int) -> Iterator[bytes]:
    """What the summary's tables show: the critical path, own and weighted times, peak, outlived."""
    root = recording.roots[0] if recording.roots else None
    segments = critical_path(recording, root, slack_ns=0) if root is not None else []  # (near ones: not shown)
    yield b'"critical":{"proc":[%s],"start":[%s],"exec":[%s]},' % (
        _ints(where[segment.proc] for segment in segments),
        _ints(_deltas([segment.start_ns - first for segment in segments])), _ints(map(_exec_number, segments)))
    own = own_times(recording)
    weighted = weighted_times(recording)
    yield b'"own":[%s],"weighted":[%s],' % (_ints(own[proc] for proc in procs),
                                             _ints(round(weighted.get(proc, 0)) for proc in procs))
    peak, when = peak_concurrency(recording)
    past = outlived(recording, root) if root is not None and root.end_ns is not None else []
    yield b'"peak":[%d,%d],"root":%d,"root_end":%d,"outlived":[%s]' % (
        peak, when - first, where[root] if root is not None else -1,
        (end_of(root, recording) - first) if root is not None else 0,
        b",".join(b"[%d,%d]" % (where[proc], after) for proc, after in past))


def _exec_number(segment) -> int:
    """Which of its process's execs a critical path segment ran (-1: what it was forked with)."""
    for number, step in enumerate(segment.proc.execs):
        if step is segment.step:
            return number
    return -1
