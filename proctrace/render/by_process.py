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

from proctrace.canonical import line_owners
from proctrace.model import collector_paused

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List

__all__ = ["render"]


def render(batches: Iterable[list], *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """Batches of canonical lines -> JSON lines, grouped by process."""
    groups: List[List[bytes]] = []
    current: Dict[bytes, List[bytes]] = {}  # pid (b"" for Lost) -> its open group
    with collector_paused():  # a group a process, all kept to the end
        for batch in batches:
            for line, (kind, owner) in zip(batch, line_owners(batch)):
                group = current.get(owner)
                if group is None:
                    group = current[owner] = []
                    groups.append(group)
                group.append(line)
                if kind == b"Exit":
                    # the process is over: a later event for its pid is a new process
                    group[:] = [b"\n".join(group)]
                    del current[owner]
    for start in range(0, len(groups), _GROUPS_PER_WRITE):
        piece = groups[start:start + _GROUPS_PER_WRITE]
        yield (b"\n" if start else b"") + b"\n\n".join(map(b"\n".join, piece)) + b"\n"


_GROUPS_PER_WRITE = 4096
