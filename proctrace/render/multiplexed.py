"""The events in timestamp order as JSON lines: the canonical form of a recording.

Lines already in canonical form pass through as they are; legacy kinds of
the original (ExecFull, ExecArgs, ...) come out as the Exec events they
describe (the pipeline writes them as canonical lines), so the output is
always in the current format.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator

__all__ = ["render"]


def render(batches: Iterable[list], *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """Batches of canonical lines (an item may hold several) -> JSON lines, a batch at a time."""
    for batch in batches:
        yield b"\n".join(batch)
        yield b"\n"
