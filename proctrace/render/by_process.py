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
from array import array
from operator import itemgetter

from proctrace.events import Fork, Lost, as_event, as_line, canonical_order
from proctrace.model import collector_paused
from proctrace.reader import lines_of

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

__all__ = ["render", "prepare_chunk", "unpack_chunk", "DESCRIPTION", "STREAMING", "HELPER_SHARE", "TAKES_RUNS"]

DESCRIPTION = "JSON lines grouped by process, a blank line between processes"
STREAMING = False
# of every n chunks, how many a helper process checks and orders (see parallel.py): grouping keeps the main
# process busy
HELPER_SHARE = (1, 1)
# whether batches may hold sort.Run items (many lines in one bytes object): it needs every line on its own
TAKES_RUNS = False

# {"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,...  -> (b"Fork", b"2")
# {"Exit":{"timestamp":6,"pid":2,...                       -> (b"Exit", b"2")
# {"Lost":{"timestamp":7,"count":3}}                        -> (b"Lost", b"3"), owner "lost"
# A string value cannot hold `{"` unescaped, so each line matches exactly once.
_KIND_PID = re.compile(rb'\{"([A-Za-z]+)":\{"timestamp":[0-9]+,"(?:parent_pid":[0-9]+,"child_pid|pid|count)":([0-9]+)')


def prepare_chunk(body: bytes) -> Optional[Tuple[array, Optional[array]]]:
    """The chunk's timestamps in order, and the order of its lines (see
    events.canonical_order): the main process holds the chunk already, so
    the helper sends it back no text; None for the general path."""
    return canonical_order(body)


def unpack_chunk(body: bytes, prepared: Tuple[array, Optional[array]]) -> Tuple[List[int], List[bytes]]:
    """prepare_chunk's result -> (timestamps, lines), in timestamp order."""
    keys, order = prepared
    lines = lines_of(body)
    if order is not None:
        lines = list(itemgetter(*order)(lines))
    return keys.tolist(), lines


def _owners(batch: list) -> Tuple[List[bytes], Iterable[Tuple[bytes, object]]]:
    """The batch's lines, and (kind, owner) for each: the pid whose group it joins, or "lost"."""
    try:
        text = b"\n".join(batch)
    except TypeError:
        text = None  # events decoded from other forms
    if text is not None and b'{"Lost"' not in text:
        pairs = _KIND_PID.findall(text)
        if len(pairs) == len(batch):
            return batch, pairs
    owners = []
    for record in batch:
        event = as_event(record)
        kind = type(event).__name__.encode()
        if isinstance(event, Lost):
            owners.append((kind, "lost"))
        else:
            owners.append((kind, str(event.child_pid if isinstance(event, Fork) else event.pid).encode()))
    return list(map(as_line, batch)), owners


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records -> JSON lines, grouped by process."""
    groups: List[List[bytes]] = []
    current: Dict[object, List[bytes]] = {}  # pid (or "lost") -> its open group
    with collector_paused():  # a group a process, all kept to the end
        for batch in batches:
            lines, owners = _owners(batch)
            for line, (kind, owner) in zip(lines, owners):
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
