"""Reads a recording in large chunks of whole lines, so later stages loop in C.

A chunk is what one `read1` returns (at most `chunk_size` bytes), cut back to
its last newline: on a file that is a megabyte at a time, on a live pipe
whatever has arrived, so `proctrace record | proctrace sort` is not held up
waiting for a full megabyte.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator, List, Tuple

__all__ = ["read_chunks", "read_line_batches"]

CHUNK_SIZE = 1 << 20


def read_chunks(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Tuple[int, bytes]]:
    """Yield (number of the first line, bytes of whole lines) pairs.

    Every chunk but the last ends with a newline; the last one holds a final
    line that has none, if the input ends without one.
    """
    read = getattr(stream, "read1", stream.read)
    lineno = 1
    rest = b""
    while True:
        data = read(chunk_size)
        if not data:
            break
        if rest:
            data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        body = data[:cut] if rest else data
        yield lineno, body
        lineno += body.count(b"\n")
    if rest:
        yield lineno, rest


def read_line_batches(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Tuple[int, List[bytes]]]:
    """Yield (number of the first line, list of lines without their newline)."""
    for lineno, body in read_chunks(stream, chunk_size=chunk_size):
        lines = body.split(b"\n")
        if body.endswith(b"\n"):
            lines.pop()
        yield lineno, lines
