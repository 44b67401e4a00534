"""Reads a recording in large chunks of whole lines, so later stages loop in C.

A chunk is what one `read1` returns (at most `chunk_size` bytes), cut back to
its last newline: on a file that is a megabyte at a time, on a live pipe
whatever has arrived, so `proctrace record | proctrace sort` is not held up
waiting for a full megabyte.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator, List

__all__ = ["read_chunks", "lines_of"]

CHUNK_SIZE = 1 << 18


def read_chunks(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield chunks of whole lines.

    Every chunk but the last ends with a newline; the last one holds a final
    line that has none, if the input ends without one.
    """
    read = getattr(stream, "read1", stream.read)
    rest = b""
    while True:
        data = read(chunk_size)
        if not data:
            break
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest += data
            continue
        if cut == len(data):
            yield rest + data if rest else data
        else:
            # one copy: the carried part and this read's whole lines, joined
            yield b"".join((rest, memoryview(data)[:cut]))
        rest = data[cut:]
    if rest:
        yield rest


def lines_of(chunk: bytes) -> List[bytes]:
    """A chunk's lines, without the empty piece after a final newline."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    return lines
