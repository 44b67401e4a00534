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
from itertools import islice

from proctrace.model import collector_paused, raw_fields_of
from proctrace.render.report import report
from proctrace.render.timeline import cmdline_texts

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Optional

    from proctrace.model import ExecStep, Process, Recording
    from proctrace.render.report import Report

__all__ = ["render", "summary_object"]

_BATCH = 4096  # critical path segments written at a time


def summary_object(recording: Recording) -> Dict[str, object]:
    """The process model -> the summary's content as plain JSON values (what render writes, read back)."""
    return json.loads(b"".join(render(recording, warn=lambda message: None)))


def _content(rep: Report) -> Dict[str, object]:
    """The summary's content as plain JSON values, but the critical path (which may be long): None."""
    recording, root, origin = rep.recording, rep.root, rep.origin_ns
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
        "critical_path": None,
        "critical_path_programs": [
            {"program": name, "duration_ns": ns, "share": round(ns / wall, 6), "segments": count}
            for name, ns, count in rep.path_programs],
        "slowest_own": [dict(process(proc), own_ns=ns, duration_ns=rep.lifetime(proc))
                        for proc, ns in rep.slowest_own],
        "slowest_weighted": [dict(process(proc), weighted_ns=round(ns), duration_ns=rep.lifetime(proc))
                             for proc, ns in rep.slowest_weighted],
        "programs": [{"program": name, "execs": count, "total_ns": total} for name, count, total in rep.programs],
    }


_SEGMENT = '{"pid":%d,"start_ns":%d,"duration_ns":%d,"share":%r,"command":%s,"forked":%s,"near":[%s],"near_total":%d}'
_NEAR = '{"pid":%d,"command":%s,"slack_ns":%d}'


def _path(rep: Report) -> Iterator[str]:
    """The critical path's segments as JSON text, each as _dumps would write its object, made a
    batch at a time with the argvs of a batch read together: a build's path has tens of thousands."""
    origin, wall = rep.origin_ns, rep.wall_ns or 1
    for begin in range(0, len(rep.path), _BATCH):
        part = rep.path[begin:begin + _BATCH]
        siblings = [sibling for segment in part for sibling, _ in segment.near]
        commands = iter(_argvs([segment.step for segment in part] + [proc.command_step() for proc in siblings]))
        argvs = list(islice(commands, len(part)))
        for segment, argv in zip(part, argvs):
            near = ",".join([_NEAR % (sibling.pid, next(commands), slack) for sibling, slack in segment.near])
            yield _SEGMENT % (segment.pid, segment.start_ns - origin, segment.duration_ns,
                              round(segment.duration_ns / wall, 6), argv,
                              "false" if segment.step in segment.proc.execs else "true", near, segment.near_total)


def _argvs(steps: List[Optional[ExecStep]]) -> List[str]:
    """Each exec's argv as _dumps writes it ("null" for None): the recording's own JSON text of
    it where that is the same (printable ASCII without escapes)."""
    known = [step for step in steps if step is not None]
    texts = [text.decode("ascii") if text.isascii() and b"\\" not in text and b"\x7f" not in text
             else _dumps(json.loads(text)) for text in cmdline_texts(raw_fields_of(known))]
    if len(known) < len(steps):
        found = iter(texts)
        texts = [next(found) if step is not None else "null" for step in steps]
    return texts


def _dumps(value) -> str:
    # ASCII only, and DEL, which JSON leaves as it is, escaped too: the text is safe on a terminal
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("\x7f", "\\u007f")


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the summary as one JSON object, written a piece at a time."""
    with collector_paused():  # (the tables made here hold no cycles: nothing to collect)
        rep = report(recording)
        pieces: List[str] = []
        for number, (key, value) in enumerate(_content(rep).items()):
            pieces.append(("{\n" if number == 0 else ",\n") + _dumps(key) + ":")
            if not isinstance(value, list) and key != "critical_path":
                pieces.append(_dumps(value))
                continue
            items = 0
            for item in _path(rep) if key == "critical_path" else map(_dumps, value):
                pieces.append(("[\n " if items == 0 else ",\n ") + item)
                items += 1
                if len(pieces) >= 1024:
                    yield "".join(pieces).encode("ascii")
                    pieces = []
            pieces.append("\n]" if items else "[]")
        pieces.append("\n}\n")
        yield "".join(pieces).encode("ascii")
