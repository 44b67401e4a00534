"""The summary as one JSON object: the same content as `summary`, with every list whole.

Durations and offsets are integer nanoseconds (`_ns`), offsets counted
from the main root's start; a command is its argv as a list (null when
unknown).  Keys are listed in proctrace-render(1).  The object is written
one key a line and one list item a line, so that it can be read and
diffed as well as parsed; only ASCII is written (everything else as JSON
escapes, lone surrogates for bytes that are not UTF-8 included).

    {
    "wall_ns":1500000000,
    "critical_path":[
     {"pid":200,"start_ns":0,"duration_ns":1000000,"share":0.0007,"command":["sh","-c","make"],...},
"""

from __future__ import annotations

import json
from types import GeneratorType

from proctrace.render.report import report

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List

    from proctrace.model import Process, Recording

__all__ = ["render", "summary_object"]


def summary_object(recording: Recording) -> Dict[str, object]:
    """The process model -> the summary's content as plain JSON values."""
    return {key: list(value) if key == "critical_path" else value for key, value in _content(recording).items()}


def _content(recording: Recording) -> Dict[str, object]:
    """The summary's content, with the critical path (which may be long) as an iterator."""
    rep = report(recording)
    root, origin = rep.root, rep.origin_ns
    wall = rep.wall_ns or 1

    def process(proc: Process) -> Dict[str, object]:
        step = proc.command_step()
        return {"pid": proc.pid, "command": list(step.cmdline) if step is not None else None}

    return {
        "root": None if root is None else dict(process(root), start_ns=0, exit_code=root.exit_code,
                                               signal=root.signal, exit_seen=root.end_ns is not None),
        "other_roots": [process(proc) for proc in rep.other_roots],
        "wall_ns": rep.wall_ns,
        "last_exit_ns": rep.until_last_exit_ns,
        "processes": rep.processes,
        "execs": rep.execs,
        "peak_concurrency": rep.peak,
        "peak_at_ns": rep.peak_at_ns,
        "lost": recording.lost_count,
        "no_exit": [proc.pid for proc in rep.no_exit],
        "unforked": [proc.pid for proc in rep.unforked],
        "hidden": recording.hidden,
        "hidden_below_ns": recording.hidden_below_ns,
        "failures": [dict(process(proc), start_ns=proc.start_ns - origin, exit_code=proc.exit_code,
                          signal=proc.signal) for proc in rep.failures],
        "outlived": [dict(process(proc), after_root_ns=ns, exit_seen=proc.end_ns is not None)
                     for proc, ns in rep.outlived],
        "slack_ns": rep.slack_ns,
        "critical_path": (
            {"pid": segment.pid, "start_ns": segment.start_ns - origin, "duration_ns": segment.duration_ns,
             "share": round(segment.duration_ns / wall, 6),
             "command": list(segment.command) if segment.step is not None else None,
             "forked": segment.step not in segment.proc.execs,
             "near": [dict(process(sibling), slack_ns=slack) for sibling, slack in segment.near],
             "near_total": segment.near_total}
            for segment in rep.path),
        "critical_path_programs": [
            {"program": name, "duration_ns": ns, "share": round(ns / wall, 6), "segments": count}
            for name, ns, count in rep.path_programs],
        "slowest_own": [dict(process(proc), own_ns=ns, duration_ns=rep.lifetime(proc))
                        for proc, ns in rep.slowest_own],
        "slowest_weighted": [dict(process(proc), weighted_ns=round(ns), duration_ns=rep.lifetime(proc))
                             for proc, ns in rep.slowest_weighted],
        "programs": [{"program": name, "execs": count, "total_ns": total} for name, count, total in rep.programs],
    }


def _dumps(value) -> str:
    # ASCII only, and DEL, which JSON leaves as it is, escaped too: the text is safe on a terminal
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("\x7f", "\\u007f")


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the summary as one JSON object, written a piece at a time."""
    pieces: List[str] = []
    for number, (key, value) in enumerate(_content(recording).items()):
        pieces.append(("{\n" if number == 0 else ",\n") + _dumps(key) + ":")
        if not isinstance(value, (list, GeneratorType)):
            pieces.append(_dumps(value))
            continue
        items = 0
        for item in value:
            pieces.append(("[\n " if items == 0 else ",\n ") + _dumps(item))
            items += 1
            if len(pieces) >= 1024:
                yield "".join(pieces).encode("ascii")
                pieces = []
        pieces.append("\n]" if items else "[]")
    pieces.append("\n}\n")
    yield "".join(pieces).encode("ascii")
