"""Folds a timestamp-ordered event stream into processes, for renderers that draw a tree.

Events say what happened at one instant; a chart needs each process's life:
when it started, what it ran (each exec), how and when it ended, who its
parent and children are.  A pid can be reused within one recording, so a
process is identified by its pid *and* its place in time: a Fork or Exec for
a pid whose process already exited starts a new one.

A tree needs every event before it can be drawn, so what is kept per
process is small: objects with __slots__, and each exec's record kept as it
came (usually its JSON line) and decoded only when its command is asked for.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from proctrace.events import fields_of

__all__ = ["Process", "ExecStep", "Recording", "fold_processes"]


class ExecStep:
    """One exec of a process; its argv is decoded from the record on demand."""

    __slots__ = ("timestamp", "_record")

    def __init__(self, timestamp: int, record):
        self.timestamp = timestamp
        self._record = record

    @property
    def cmdline(self) -> Tuple[str, ...]:
        return tuple(fields_of(self._record)[1]["cmdline"])

    @property
    def truncated(self) -> bool:
        return bool(fields_of(self._record)[1].get("cmdline_truncated"))


class Process:
    """One process's life: from its Fork (or first event) to its Exit."""

    __slots__ = ("pid", "ppid", "start_ns", "forked", "parent", "execs", "children",
                 "end_ns", "exit_code", "signal", "pgid", "sid")

    def __init__(self, pid: int, ppid: Optional[int], start_ns: int, forked: bool):
        self.pid = pid
        self.ppid = ppid
        self.start_ns = start_ns
        self.forked = forked                  # its Fork was seen (else it ran before)
        self.parent: Optional[Process] = None
        # most processes exec once and have no children: share one empty tuple
        # until there is something to hold (a third less memory on big builds)
        self.execs: Sequence[ExecStep] = ()
        self.children: Sequence[Process] = ()
        self.end_ns: Optional[int] = None     # None: no Exit seen
        self.exit_code: Optional[int] = None
        self.signal: Optional[int] = None
        self.pgid: Optional[int] = None
        self.sid: Optional[int] = None

    @property
    def command(self) -> Tuple[str, ...]:
        """What it ran last; a process that never exec'd runs its parent's program."""
        if self.execs:
            return self.execs[-1].cmdline
        if self.parent is not None:
            return self.parent.command_at(self.start_ns)
        return ()

    def command_at(self, ns: int) -> Tuple[str, ...]:
        """The command line this process was running at time `ns`."""
        current = None
        for step in self.execs:
            if step.timestamp > ns:
                break
            current = step
        if current is not None:
            return current.cmdline
        return self.parent.command_at(self.start_ns) if self.parent is not None else ()


class Recording:
    """The processes of a recording, its time span and how many events were lost."""

    __slots__ = ("processes", "roots", "first_ns", "last_ns", "lost")

    def __init__(self, processes: List[Process], roots: List[Process], first_ns: int, last_ns: int, lost: int):
        self.processes = processes            # in order of first appearance
        self.roots = roots                    # processes whose parent is not in the recording
        self.first_ns = first_ns
        self.last_ns = last_ns
        self.lost = lost                      # events the kernel dropped


def fold_processes(records: Iterable) -> Recording:
    """Timestamp-ordered records (events or canonical lines) -> the processes they describe."""
    live: Dict[int, Process] = {}     # pid -> its current process
    processes: List[Process] = []
    first_ns = last_ns = None
    lost = 0

    def begin(pid: int, ppid: Optional[int], ts: int, forked: bool) -> Process:
        proc = Process(pid, ppid, ts, forked)
        parent = live.get(ppid) if ppid is not None else None
        if parent is not None and parent.end_ns is None:
            proc.parent = parent
            if parent.children:
                parent.children.append(proc)
            else:
                parent.children = [proc]
        live[pid] = proc
        processes.append(proc)
        return proc

    def current(pid: int, ppid: Optional[int], ts: int) -> Process:
        proc = live.get(pid)
        if proc is None or proc.end_ns is not None:
            proc = begin(pid, ppid, ts, forked=False)
        return proc

    for record in records:
        kind, event = fields_of(record)
        ts = event["timestamp"]
        if first_ns is None:
            first_ns = ts
        last_ns = ts
        if kind == "Fork":
            # a parent outside the recording (the recorder itself) is not invented
            begin(event["child_pid"], event["parent_pid"], ts, forked=True)
        elif kind == "Exec":
            proc = current(event["pid"], event["ppid"], ts)
            if proc.execs:
                proc.execs.append(ExecStep(ts, record))
            else:
                proc.execs = [ExecStep(ts, record)]
            proc.pgid = event["pgid"]
            proc.sid = event.get("sid") if event.get("sid") is not None else proc.sid
        elif kind == "Exit":
            proc = current(event["pid"], event["ppid"], ts)
            proc.end_ns = ts
            proc.exit_code = event.get("exit_code")
            proc.signal = event.get("signal")
            proc.pgid = event["pgid"]
        elif kind in ("SetSID", "SetPGID"):
            proc = current(event["pid"], event["ppid"], ts)
            proc.pgid = event["pgid"]
            if kind == "SetSID":
                proc.sid = event["sid"]
        elif kind == "Lost":
            lost += event["count"]
    roots = [p for p in processes if p.parent is None]
    return Recording(processes, roots, first_ns or 0, last_ns or 0, lost)
