"""The errors proctrace reports as one line on stderr, in a module of their own
so that a stage can raise them without loading the event model."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

__all__ = ["ProctraceError", "ParseError", "TracerError"]


class ProctraceError(Exception):
    """Base class of every error the command line reports as one line."""


class ParseError(ProctraceError):
    """A line of a recording that cannot be read; carries where it was."""

    def __init__(self, source: str, lineno: Optional[int], reason: str):
        super().__init__(f"{source}:{lineno}: {reason}" if lineno is not None else f"{source}: {reason}")
        self.source = source
        self.lineno = lineno
        self.reason = reason


class TracerError(ProctraceError):
    """bpftrace is missing, failed, or was not permitted to run."""
