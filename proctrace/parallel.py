"""Reads a large recording file on two CPUs: a forked helper prepares some chunks.

The costly part of reading a recording is per-line work done in C (finding
every timestamp, checking every line's form), so it parallelises only across
processes.  For a regular file, a helper process forked at the start reads
the same chunks with `os.pread` (the file offset is shared after fork; pread
leaves it alone) and runs `prepare` on its share of them; the main process
prepares the rest itself, and does everything else (merging, rendering,
writing).  The helper reads the file itself; only the prepared results
cross the pipe, pickled: a chunk's keys, or the chunk put in order.

Both processes cut chunks with the same function over the same bytes, so
they agree on every chunk; the results are the same whichever process
computed them, so the output does not depend on the helper.  Should the
helper fail in any way, the main process prepares the rest itself.  A pipe
(`proctrace record | proctrace sort`), a small file, or a single CPU gets
no helper.
"""

from __future__ import annotations

import os
import stat

from proctrace.reader import CHUNK_SIZE, read_chunks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Iterator, Optional, Tuple

__all__ = ["prepared_chunks"]

# Below this a helper costs more to start than it saves.
MIN_SIZE = 8 << 20


def prepared_chunks(stream: BinaryIO, prepare: Callable[[bytes], object], *, share: Tuple[int, int] = (1, 2),
                    min_size: int = MIN_SIZE, chunk_size: int = CHUNK_SIZE) -> Iterator[Tuple[bytes, object]]:
    """(chunk, prepare(chunk)) for each chunk of whole lines of `stream`.

    The helper prepares `share` = (n, m): n of every m chunks.  The more
    other work the main process has per chunk, the more the helper should
    take; the stage that knows its work chooses.
    """
    fd, start, end = _file_span(stream)
    if fd is None or end - start < min_size or _usable_cpus() < 2:
        for chunk in read_chunks(stream, chunk_size=chunk_size):
            yield chunk, prepare(chunk)
        return
    helpers_turn = _turns(*share)
    helper = _Helper(fd, start, end, prepare, chunk_size, helpers_turn)
    offset, rest = start, b""
    try:
        for index, (chunk, offset, rest) in enumerate(_file_chunks(fd, start, end, chunk_size)):
            result = helper.result() if helpers_turn(index) else _NONE
            yield chunk, prepare(chunk) if result is _NONE else result
    finally:
        helper.stop()
    # whatever was appended since the size was taken, read as from a pipe
    stream.seek(offset)
    tail = read_chunks(stream, chunk_size=chunk_size)
    for chunk in _with_carry(rest, tail):
        yield chunk, prepare(chunk)


_NONE = object()


def _turns(helpers: int, of: int) -> Callable[[int], bool]:
    """Whether chunk number i is the helper's: `helpers` of every `of` chunks."""
    return lambda index: index % of < helpers


def _file_span(stream) -> Tuple[Optional[int], int, int]:
    """(fd, position, size) of a regular file; (None, 0, 0) for anything else."""
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, 0, 0
        return fd, stream.tell(), info.st_size
    except (AttributeError, OSError, ValueError):
        return None, 0, 0


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _file_chunks(fd: int, start: int, end: int, size: int) -> Iterator[Tuple[bytes, int, bytes]]:
    """(chunk, offset after it, carried partial line) for the whole lines in fd[start:end].

    Lines are cut exactly as read_chunks cuts them; a last line without a
    newline before `end` is carried out, not yielded: the file may still grow.
    """
    offset, rest = start, b""
    while offset < end:
        data = os.pread(fd, min(size, end - offset), offset)
        if not data:
            break
        offset += len(data)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest += data
            continue
        if cut == len(data):
            chunk, rest = (rest + data if rest else data), b""
        else:
            chunk, rest = b"".join((rest, memoryview(data)[:cut])), data[cut:]
        yield chunk, offset, rest


def _with_carry(rest: bytes, chunks) -> Iterator[bytes]:
    """Chunks of whole lines, the first prefixed by a carried partial line."""
    for chunk in chunks:
        if rest:
            chunk, rest = rest + chunk, b""
        yield chunk
    if rest:
        yield rest


class _Helper:
    """The forked process preparing its share of the chunks, and the pipe of its results."""

    def __init__(self, fd: int, start: int, end: int, prepare, chunk_size: int, helpers_turn):
        import pickle
        self._load = pickle.load
        read_end, write_end = os.pipe()
        _widen(write_end)
        self.pid = os.fork()
        if self.pid == 0:  # the helper: never returns
            os.close(read_end)
            _serve(fd, start, end, prepare, chunk_size, helpers_turn, write_end, pickle.dump)
        os.close(write_end)
        self._results: Optional[BinaryIO] = os.fdopen(read_end, "rb")

    def result(self) -> object:
        """The helper's next result, or _NONE once it has failed."""
        if self._results is None:
            return _NONE
        try:
            return self._load(self._results)
        except Exception:  # the helper died: EOFError, a cut-off pickle, ...
            self.stop()
            return _NONE

    def stop(self) -> None:
        if self._results is None:
            return
        self._results.close()
        self._results = None
        import signal
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass  # already gone and reaped


def _widen(pipe: int, size: int = 1 << 20) -> None:
    """Let the pipe hold a few results (the default 64 KiB is less than one
    sorted chunk), so the helper can work ahead instead of waiting for us."""
    try:
        import fcntl
        fcntl.fcntl(pipe, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: the helper waits more, that is all


def _serve(fd: int, start: int, end: int, prepare, chunk_size: int, helpers_turn, write_end: int, dump) -> None:
    """The helper's whole life: prepare its chunks, pickle each result down the pipe, exit."""
    import signal
    status = 1
    try:
        # Ctrl-C and a closed pipe end the helper quietly; the main process reports them
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if fd != 1:
            os.close(1)  # a reader of our output must see its end when the main process ends
        with os.fdopen(write_end, "wb") as results:
            for index, (chunk, _, _) in enumerate(_file_chunks(fd, start, end, chunk_size)):
                if helpers_turn(index):
                    dump(prepare(chunk), results, -1)
                    results.flush()
        status = 0
    finally:
        os._exit(status)  # nothing of the parent's (buffers, atexit) may run twice
