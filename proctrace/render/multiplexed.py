"""The events in timestamp order as JSON lines: the canonical form of a recording.

Lines already in canonical form pass through as they are; legacy kinds of
the original (ExecFull, ExecArgs, ...) come out as the Exec events they
describe, so the output is always in the current format.
"""

from __future__ import annotations

from proctrace.events import as_line

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator

__all__ = ["render", "DESCRIPTION", "STREAMING", "HELPER_SHARE", "TAKES_RUNS"]

DESCRIPTION = "every event in timestamp order, as JSON lines (the default)"
STREAMING = True
# of every n chunks, how many a helper process checks and sorts (see parallel.py): the main
# process does the rest of them, and merges and writes them all.  Measured at 1M events
# (8 runs each): 1 of 2 took 0.91 s, 3 of 5 0.95 s, 2 of 3 1.03 s.
HELPER_SHARE = (1, 2)
# whether batches may hold sort.Run items (many lines in one bytes object): it writes lines out as they are: sorted chunks may stay whole
TAKES_RUNS = True


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records -> JSON lines, a batch at a time."""
    for batch in batches:
        try:
            text = b"\n".join(batch)  # lines read in canonical form, the usual case
        except TypeError:  # some are events decoded from other forms
            text = b"\n".join(map(as_line, batch))
        yield text
        yield b"\n"
