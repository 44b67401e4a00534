"""Each process's events together, processes in order of their first event.

A Fork belongs to the child it creates (it is where the child's life
begins); a pid reused after its process exited starts a new group.  Lost
events, which belong to no process, form a group of their own.  Groups are
separated by a blank line, as in the original.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List

from itertools import chain

from proctrace.events import Exit, Fork, Lost, as_event, as_line

__all__ = ["render", "DESCRIPTION", "STREAMING"]

DESCRIPTION = "JSON lines grouped by process, a blank line between processes"
STREAMING = False


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records -> JSON lines, grouped by process."""
    groups: List[List[bytes]] = []
    current: Dict[object, List[bytes]] = {}  # pid (or "lost") -> its open group
    ended = set()                            # pids whose group saw an Exit
    for record in chain.from_iterable(batches):
        event = as_event(record)
        if isinstance(event, Lost):
            key = "lost"
        else:
            key = event.child_pid if isinstance(event, Fork) else event.pid
        group = current.get(key)
        if group is None or key in ended:
            group = current[key] = []
            groups.append(group)
            ended.discard(key)
        group.append(as_line(record))
        if isinstance(event, Exit):
            ended.add(key)
    for index, group in enumerate(groups):
        if index:
            yield b"\n"
        yield b"\n".join(group) + b"\n"
