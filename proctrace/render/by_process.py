"""Each process's events together, processes in order of their first event.

A Fork belongs to the child it creates (it is where the child's life
begins); a pid reused after its process exited starts a new group.  Lost
events, which belong to no process, form a group of their own.  Groups are
separated by a blank line, as in the original.

Every event must be seen before the first group can be written, so the
lines are held as bytes (not decoded events), and a group is packed into a
single bytes object once its process exits.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Callable, Dict, Iterable, Iterator, List

from proctrace.events import Exit, Fork, Lost, as_line

__all__ = ["render", "DESCRIPTION", "STREAMING"]

DESCRIPTION = "JSON lines grouped by process, a blank line between processes"
STREAMING = False

# {"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,...  -> (b"Fork", b"2")
# {"Exit":{"timestamp":6,"pid":2,...                       -> (b"Exit", b"2")
_KIND_PID = re.compile(rb'\{"([A-Za-z]+)":\{"timestamp":[0-9]+,"(?:parent_pid":[0-9]+,"child_pid|pid)":([0-9]+)')


def _kind_and_owner(record):
    """(kind, the pid whose group it joins, or "lost")."""
    if type(record) is bytes:
        match = _KIND_PID.match(record)
        if match is None:
            return b"Lost", "lost"
        kind, pid = match.groups()
        return kind, int(pid)
    if isinstance(record, Lost):
        return b"Lost", "lost"
    if isinstance(record, Fork):
        return b"Fork", record.child_pid
    return (b"Exit" if isinstance(record, Exit) else b"other"), record.pid


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records -> JSON lines, grouped by process."""
    groups: List[List[bytes]] = []
    current: Dict[object, List[bytes]] = {}  # pid (or "lost") -> its open group
    for record in chain.from_iterable(batches):
        kind, owner = _kind_and_owner(record)
        group = current.get(owner)
        if group is None:
            group = current[owner] = []
            groups.append(group)
        group.append(record if type(record) is bytes else as_line(record))
        if kind == b"Exit":
            # the process is over: a later event for its pid is a new process
            packed = b"\n".join(group)
            group[:] = [packed]
            del current[owner]
    for start in range(0, len(groups), _GROUPS_PER_WRITE):
        piece = groups[start:start + _GROUPS_PER_WRITE]
        yield (b"\n" if start else b"") + b"\n\n".join(map(b"\n".join, piece)) + b"\n"


_GROUPS_PER_WRITE = 4096
