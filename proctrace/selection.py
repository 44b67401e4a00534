"""The part of a recording a view asks for: one process's subtree (--pid), without short leaves (--min-duration).

Both work on the process model after the fold and before a tree renderer
sees it; hide_short_leaves changes the recording it is given (the pipeline
builds one model per render).

    narrowed(recording, make) -> Recording(roots=[make], ...)
"""

from __future__ import annotations

from proctrace.model import Process, Recording

__all__ = ["narrowed", "hide_short_leaves"]


def narrowed(recording: Recording, root: Process) -> Recording:
    """The part of the recording that is `root` and its descendants (--pid)."""
    procs, stack = [], [root]
    while stack:
        proc = stack.pop()
        procs.append(proc)
        stack.extend(reversed(proc.children))
    procs.sort(key=lambda proc: proc.start_ns)  # (stable: the order of first appearance among equals)
    ends = [proc.end_ns if proc.end_ns is not None else recording.last_ns for proc in procs]
    part = Recording(procs, [root], root.start_ns, max(ends), recording.lost, recording.duplicate_exits)
    return part


def hide_short_leaves(recording: Recording, min_ns: int) -> int:
    """Leave out every process shorter than `min_ns` whose descendants are all left out too;
    returns how many were (also kept in recording.hidden and hidden_below_ns)."""
    last = recording.last_ns
    hidden = set()
    for proc in reversed(recording.processes):  # children come after their parents
        end = proc.end_ns if proc.end_ns is not None else last
        if end - proc.start_ns < min_ns and all(child in hidden for child in proc.children) \
                and proc not in recording.roots:
            hidden.add(proc)
    if hidden:
        for proc in recording.processes:
            if proc.children:
                proc.children = [child for child in proc.children if child not in hidden]
        recording.processes = [proc for proc in recording.processes if proc not in hidden]
    recording.hidden += len(hidden)
    recording.hidden_below_ns = max(recording.hidden_below_ns, min_ns)
    return len(hidden)
