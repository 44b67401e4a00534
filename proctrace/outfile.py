"""An output file, written whole or not at all, gzip-compressed when its name says so.

`sort` and `render` write as they read, so bad input on line 90,000 came
after 89,999 lines were written: the file named by -o was already emptied
(whatever it held before was lost), and a cut recording ends on a whole
line, so it reads as complete.  The output therefore goes to a new file
beside it, renamed over it only when everything is written; on an error
the file is left as it was.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

__all__ = ["written"]


@contextmanager
def written(path: str, *, whole: bool = True) -> Iterator[BinaryIO]:
    """The file `path` to write; a name ending in .gz gets gzip, with no name
    or time in its header, so that the same output gives the same bytes.

    `whole`: written through a new file put in its place when the block
    ends without an error (else written as it goes, for a reader that
    follows it).  A name that is not a regular file (a FIFO, /dev/null) is
    written directly, as is one whose directory takes no new file; a
    symbolic link's target is replaced, keeping the link; a replaced file
    keeps its permissions.
    """
    compress = path.endswith(".gz")
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = None  # a new file (or an error that opening it will report)
    temp = None
    if whole and (mode is None or stat.S_ISREG(mode)):
        directory, name = os.path.split(target)
        temp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.part")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError:
            temp = None
    raw = open(path, "wb") if temp is None else open(fd, "wb")
    try:
        with raw:
            if compress:
                import gzip
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
                    yield out
            else:
                yield raw
        if temp is not None:
            if mode is not None:
                os.chmod(temp, stat.S_IMODE(mode))
            os.replace(temp, target)
    except BaseException:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
        raise
