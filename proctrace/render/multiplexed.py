"""The events in timestamp order as JSON lines: the canonical form of a recording.

Lines already in canonical form pass through as they are; legacy kinds of
the original (ExecFull, ExecArgs, ...) come out as the Exec events they
describe, so the output is always in the current format.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from proctrace.events import as_line

__all__ = ["render", "DESCRIPTION", "STREAMING"]

DESCRIPTION = "every event in timestamp order, as JSON lines (the default)"
STREAMING = True


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records -> JSON lines, a batch at a time."""
    for batch in batches:
        yield b"\n".join(map(as_line, batch)) + b"\n"
