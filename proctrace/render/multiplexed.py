"""The events in timestamp order as JSON lines: the canonical form of a recording.

Legacy kinds of the original (ExecFull, ExecArgs, ...) come out as the Exec
events they describe, so the output is always in the current format.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from proctrace.events import to_json

__all__ = ["render", "DESCRIPTION", "STREAMING"]

DESCRIPTION = "every event in timestamp order, as JSON lines (the default)"
STREAMING = True


def render(events: Iterable, *, warn: Callable[[str], None]) -> Iterator[str]:
    """Events -> JSON lines."""
    for event in events:
        yield to_json(event) + "\n"
