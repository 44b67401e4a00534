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

from proctrace.render.report import report

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Optional

    from proctrace.model import ExecStep, Process, Recording

__all__ = ["render", "summary_object"]


def _argvs(steps: List[Optional[ExecStep]]) -> List[Optional[list]]:
    """Each step's argv as a list (None for None)."""
    return [list(step.cmdline) if step is not None else None for step in steps]


def summary_object(recording: Recording) -> Dict[str, object]:
    """The process model -> the summary's content as plain JSON values."""
    rep = report(recording)
    root, origin = rep.root, rep.origin_ns
    named = ([root] if root is not None else []) + rep.other_roots + rep.failures \
        + [proc for proc, _ in rep.outlived + rep.slowest_own + rep.slowest_weighted] \
        + [sibling for segment in rep.path for sibling, _ in segment.near]
    commands = dict(zip(map(id, named), _argvs([proc.command_step() for proc in named])))
    path_commands = _argvs([segment.step for segment in rep.path])
    wall = rep.wall_ns or 1

    def process(proc: Process) -> Dict[str, object]:
        return {"pid": proc.pid, "command": commands[id(proc)]}

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
        "critical_path": [
            {"pid": segment.pid, "start_ns": segment.start_ns - origin, "duration_ns": segment.duration_ns,
             "share": round(segment.duration_ns / wall, 6), "command": argv,
             "forked": segment.step not in segment.proc.execs,
             "near": [dict(process(sibling), slack_ns=slack) for sibling, slack in segment.near],
             "near_total": segment.near_total}
            for segment, argv in zip(rep.path, path_commands)],
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
    """The process model -> the summary as one JSON object."""
    parts = []
    for key, value in summary_object(recording).items():
        if isinstance(value, list) and value:
            text = "[\n" + ",\n".join(" " + _dumps(item) for item in value) + "\n]"
        else:
            text = _dumps(value)
        parts.append(f"{_dumps(key)}:{text}")
    yield ("{\n" + ",\n".join(parts) + "\n}\n").encode("ascii")
