"""Folds a timestamp-ordered event stream into processes, for renderers that draw a tree.

Events say what happened at one instant; a chart needs each process's life:
when it started, what it ran (each exec), how and when it ended, who its
parent and children are.  A pid can be reused within one recording, so a
process is identified by its pid *and* its place in time: a Fork or Exec for
a pid whose process already exited starts a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from proctrace.events import Exec, Exit, Fork, Lost, SetPGID, SetSID

__all__ = ["Process", "ExecStep", "Recording", "fold_processes"]


@dataclass
class ExecStep:
    timestamp: int
    cmdline: Tuple[str, ...]
    filename: Optional[str]
    truncated: bool = False


@dataclass
class Process:
    pid: int
    ppid: Optional[int]
    start_ns: int
    forked: bool                      # its Fork was seen (else it was running before)
    parent: Optional["Process"] = None
    execs: List[ExecStep] = field(default_factory=list)
    children: List["Process"] = field(default_factory=list)
    end_ns: Optional[int] = None      # None: no Exit seen
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    pgid: Optional[int] = None
    sid: Optional[int] = None

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
            current = step.cmdline
        if current is not None:
            return current
        return self.parent.command_at(self.start_ns) if self.parent is not None else ()


@dataclass
class Recording:
    processes: List[Process]          # in order of first appearance
    roots: List[Process]              # processes whose parent is not in the recording
    first_ns: int
    last_ns: int
    lost: int                         # events the kernel dropped


def fold_processes(events: Iterable) -> Recording:
    """Timestamp-ordered events -> the processes they describe."""
    live: Dict[int, Process] = {}     # pid -> its current process
    processes: List[Process] = []
    first_ns = last_ns = None
    lost = 0

    def begin(pid: int, ppid: Optional[int], ts: int, forked: bool) -> Process:
        proc = Process(pid=pid, ppid=ppid, start_ns=ts, forked=forked)
        parent = live.get(ppid) if ppid is not None else None
        if parent is not None and parent.end_ns is None:
            proc.parent = parent
            parent.children.append(proc)
        live[pid] = proc
        processes.append(proc)
        return proc

    def current(pid: int, ppid: Optional[int], ts: int) -> Process:
        proc = live.get(pid)
        if proc is None or proc.end_ns is not None:
            proc = begin(pid, ppid, ts, forked=False)
        return proc

    for event in events:
        ts = event.timestamp
        if first_ns is None:
            first_ns = ts
        last_ns = ts
        if isinstance(event, Fork):
            # a parent outside the recording (the recorder itself) is not invented
            begin(event.child_pid, event.parent_pid, ts, forked=True)
        elif isinstance(event, Exec):
            proc = current(event.pid, event.ppid, ts)
            proc.execs.append(ExecStep(ts, event.cmdline, event.filename, event.cmdline_truncated))
            proc.pgid = event.pgid
            proc.sid = event.sid if event.sid is not None else proc.sid
        elif isinstance(event, Exit):
            proc = current(event.pid, event.ppid, ts)
            proc.end_ns = ts
            proc.exit_code = event.exit_code
            proc.signal = event.signal
            proc.pgid = event.pgid
        elif isinstance(event, (SetSID, SetPGID)):
            proc = current(event.pid, event.ppid, ts)
            proc.pgid = event.pgid
            if isinstance(event, SetSID):
                proc.sid = event.sid
        elif isinstance(event, Lost):
            lost += event.count
    roots = [p for p in processes if p.parent is None]
    return Recording(processes, roots, first_ns or 0, last_ns or 0, lost)
