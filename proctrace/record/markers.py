"""What the raw-line parser (parse.py) gives besides events: the recorder's markers.

They say how far bpftrace has got (Begin, Tick, Final, End), what it said
(Message), and what went wrong on the way (CutShort, Garbled); session.py
and snapshot.py act on them, and none of them reaches a recording.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Begin", "End", "Tick", "Final", "CutShort", "Message", "Garbled"]


@dataclass(frozen=True)
class Begin:
    """bpftrace attached every probe (the BEGIN probe ran): the command may start."""

    timestamp: int
    root: int


@dataclass(frozen=True)
class End:
    """bpftrace detached its probes and printed what was left (the END probe ran)."""

    timestamp: int


@dataclass(frozen=True)
class Tick:
    """An epoch was printed: bpftrace has read what the kernel gave it up to `timestamp`."""

    timestamp: int


@dataclass(frozen=True)
class Final:
    """The root has exited, and every epoch up to the one of its exit has been told."""

    epoch: int


@dataclass(frozen=True)
class CutShort:
    """The Exec before it lost part of its argv or filename on the way (a full map): it is
    marked truncated, and the loss is the recorder's to report, as it reports a Lost."""

    pid: int


@dataclass(frozen=True)
class Message:
    """A line that is not ours: bpftrace's own messages ("Attaching 9 probes...")."""

    text: str


@dataclass(frozen=True)
class Garbled:
    """One of our lines that cannot be read, or an epoch that cannot be checked (strict=False)."""

    lineno: int
    text: str
    reason: str
