"""A short report of a recording as text: where the time went, what failed, what outlived the root.

The content is report.py's; this module lays it out.  Long lists are cut
to stay short (--all shows them whole; summary-json always has them
whole): the critical path keeps its longest segments, in time order, with
a line for each run of shorter ones between them.

    summary of pid 4242: make -j8
    wall time    12.3 s
"""

from __future__ import annotations

from proctrace.model import collector_paused
from proctrace.render.report import report
from proctrace.render.text import command_of, command_text, duration, fit, notes, outcome, shown

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Optional, Sequence

    from proctrace.analysis import Segment
    from proctrace.model import Process, Recording
    from proctrace.render.report import Report

__all__ = ["render", "segment_command"]

LIST_LIMIT = 20     # failures, outlived processes, other roots shown without --all
PATH_LIMIT = 20     # critical path segments shown without --all


def segment_command(segment: Segment, argv: Optional[Sequence[str]]) -> str:
    """What the process ran during the segment (`argv`: its step's): the image active then."""
    if argv is None:
        return "(before its first exec)"
    text = command_text(argv) if argv else "(empty argv)"
    return text if segment.step in segment.proc.execs else text + " (fork)"


def _commands(procs: List[Process]) -> Dict[Process, str]:
    """The command text of each process shown."""
    steps = [proc.command_step() for proc in procs]
    return {proc: command_of(proc, step.cmdline if step is not None else None) for proc, step in zip(procs, steps)}


def _cut(items: list, everything: bool) -> list:
    return items if everything else items[:LIST_LIMIT]


def _more(shown_count: int, total: int) -> List[str]:
    if total <= shown_count:
        return []
    return [f"  … {total - shown_count} more (--all lists every one; summary-json always does)"]


def _shown_segments(path: List[Segment], everything: bool) -> List[object]:
    """The segments to list, in time order, with a list in place of each run of left-out ones."""
    if everything or len(path) <= PATH_LIMIT:
        return list(path)
    longest = sorted(range(len(path)), key=lambda index: (-path[index].duration_ns, index))[:PATH_LIMIT]
    kept = set(longest)
    out: List[object] = []
    for index, segment in enumerate(path):
        if index in kept:
            out.append(segment)
        elif out and isinstance(out[-1], list):
            out[-1].append(segment)
        else:
            out.append([segment])
    return out


def _table(header: str, rows: List[str]) -> List[str]:
    return ["  " + header] + ["  " + row for row in rows]


def _lines(rep: Report, everything: bool) -> Iterator[str]:
    recording, root = rep.recording, rep.root
    if root is None:
        yield "no processes in the recording"
        yield from ("warning: " + line for line in notes(recording, no_exit=0, unforked=0))
        return
    segments = _shown_segments(rep.path, everything)
    on_path = [item for item in segments if not isinstance(item, list)]
    near = [sibling for segment in on_path for sibling, _ in segment.near]
    failures = _cut(rep.failures, everything)
    past = _cut(rep.outlived, everything)
    others = _cut(rep.other_roots, everything)
    texts = _commands([root] + others + [proc for proc, _ in rep.slowest_own + rep.slowest_weighted]
                      + failures + [proc for proc, _ in past] + near)
    path_texts = {id(segment): segment_command(segment, segment.command if segment.step is not None else None)
                  for segment in on_path}

    yield f"summary of pid {root.pid}: {texts[root]}"
    if others:
        yield (f"  (the recording has {len(rep.other_roots) + 1} roots, processes whose parent it does not hold; "
               f"this is the first that ran something; render --pid PID reports on another)")
        yield from (f"  other root: pid {proc.pid}: {texts[proc]}" for proc in others)
        yield from _more(len(others), len(rep.other_roots))
    yield ""
    yield f"wall time     {duration(rep.wall_ns)}" + (" (no exit seen: until the recording's end)"
                                                     if root.end_ns is None else "")
    if rep.until_last_exit_ns is not None:
        yield (f"last exit     {duration(rep.until_last_exit_ns)} after the root's start "
               f"({duration(rep.until_last_exit_ns - rep.wall_ns)} after its exit)")
    running = sum(proc.end_ns is None for proc, _ in rep.outlived)
    if running:
        yield f"              ({running} that outlived the root had not exited when the recording ended)"
    yield (f"processes     {rep.processes}, {rep.execs} execs, at most {rep.peak} running at once "
           f"(at {duration(rep.peak_at_ns)})")
    yield f"failures      {len(rep.failures)}"
    yield f"outlived      {len(rep.outlived)} (still running when pid {root.pid} exited)"
    warnings = notes(recording, no_exit=len(rep.no_exit), unforked=len(rep.unforked))
    yield from ("warning: " + line for line in warnings)

    if failures:
        yield ""
        yield f"failures (a non-zero exit or a signal): {len(rep.failures)}"
        yield from _table(f"{'START':>7}  {'PID':>7}  {'HOW':<17}  COMMAND",
                          [f"{duration(proc.start_ns - rep.origin_ns):>7}  {proc.pid:>7}  {outcome(proc):<17}  "
                           f"{texts[proc]}" for proc in failures])
        yield from _more(len(failures), len(rep.failures))
    if past:
        yield ""
        yield f"outlived the root: {len(rep.outlived)}"
        yield from _table(f"{'PAST ROOT':>12}  {'PID':>7}  COMMAND",
                          [f"{_past(proc, ns):>12}  {proc.pid:>7}  {texts[proc]}" for proc, ns in past])
        yield from _more(len(past), len(rep.outlived))

    yield ""
    yield f"critical path: {len(rep.path)} segments tiling the wall time (joins are assumed at each child's exit)"
    rows = []
    wall_ns = rep.wall_ns or 1
    indent = " " * 36  # under COMMAND
    for item in segments:
        if isinstance(item, list):
            took = sum(segment.duration_ns for segment in item)
            rows.append(f"{'…':>7}  {duration(took):>7}  {took / wall_ns:>6.1%}  "
                        f"{len(item)} shorter segment{'s' if len(item) > 1 else ''}")
            continue
        rows.append(f"{duration(item.start_ns - rep.origin_ns):>7}  {duration(item.duration_ns):>7}  "
                    f"{item.duration_ns / wall_ns:>6.1%}  {item.pid:>7}  {path_texts[id(item)]}")
        for sibling, slack in item.near:
            rows.append(f"{indent}near: pid {sibling.pid} exited {duration(slack)} earlier: {texts[sibling]}")
        if item.near_total > len(item.near):
            more = item.near_total - len(item.near)
            rows.append(f"{indent}near: {more} more sibling{'s' if more > 1 else ''}")
    yield from _table(f"{'START':>7}  {'TIME':>7}  {'SHARE':>6}  {'PID':>7}  COMMAND", rows)
    yield f"  (near: a sibling that exited at most {duration(rep.slack_ns)} before the child the path went into)"
    yield ""
    yield "critical path by program (what each segment ran)"
    yield from _table(f"{'TIME':>7}  {'SHARE':>6}  {'SEGMENTS':>8}  PROGRAM",
                      [f"{duration(ns):>7}  {ns / wall_ns:>6.1%}  {count:>8}  {shown(name)}"
                       for name, ns, count in rep.path_programs])

    yield ""
    yield "slowest by own time (time in which none of its children was alive)"
    yield from _table(f"{'OWN':>7}  {'TIME':>7}  {'PID':>7}  COMMAND",
                      [f"{duration(ns):>7}  {duration(rep.lifetime(proc)):>7}  {proc.pid:>7}  {texts[proc]}"
                       for proc, ns in rep.slowest_own])
    yield ""
    yield "slowest by weighted time (each moment divided among the processes running then)"
    yield from _table(f"{'WEIGHTED':>8}  {'TIME':>7}  {'PID':>7}  COMMAND",
                      [f"{duration(ns):>8}  {duration(rep.lifetime(proc)):>7}  {proc.pid:>7}  {texts[proc]}"
                       for proc, ns in rep.slowest_weighted])
    yield ""
    yield "most frequent programs (execs, and the time from each exec to the next or the exit)"
    yield from _table(f"{'EXECS':>7}  {'TOTAL':>7}  PROGRAM",
                      [f"{count:>7}  {duration(total):>7}  {shown(name)}" for name, count, total in rep.programs])


def _past(proc: Process, ns: int) -> str:
    if proc.end_ns is not None:
        return duration(ns)
    return "≥ " + duration(ns) if ns else "no exit seen"


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the summary as text."""
    everything = options is not None and options.everything
    with collector_paused():  # (the tables made here hold no cycles: nothing to collect)
        rep = report(recording)
    lines = _lines(rep, everything)
    if options is not None and options.width and not options.wide:  # a terminal: one line a row
        lines = (fit(line, options.width) for line in lines)
    yield "".join(line + "\n" for line in lines).encode("utf-8")
