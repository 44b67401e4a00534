"""Folds a timestamp-ordered event stream into processes, for renderers that draw a tree.

Events say what happened at one instant; a chart needs each process's life:
when it started, what it ran (each exec), how and when it ended, who its
parent and children are.  A pid can be reused within one recording, so a
process is identified by its pid *and* its place in time: a Fork or Exec for
a pid whose process already exited starts a new one.

A tree needs every event before it can be drawn, so what is kept per
process is small: objects with __slots__, and each exec's argv kept as the
JSON text it came in, decoded only when its command is asked for.

Speed: a batch of canonical lines is read with one regex pass that yields
each line's kind and numbers, not with a JSON decode per line (five times
slower); lines in other forms, and decoded events, take the general path.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
import re
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from proctrace.events import fields_of, leading_json

__all__ = ["Process", "ExecStep", "Recording", "fold_processes", "fold_batches", "collector_paused"]


class ExecStep:
    """One exec of a process; its argv is decoded on demand.

    `argv` is either the decoded command line or the JSON text of the Exec
    line from its cmdline on: `["cc","-c","x.c"],"filename":"/usr/bin/cc"`.
    """

    __slots__ = ("timestamp", "_argv", "_truncated")

    def __init__(self, timestamp: int, argv, truncated: bool = False):
        self.timestamp = timestamp
        self._argv = argv
        self._truncated = truncated

    @property
    def cmdline(self) -> Tuple[str, ...]:
        argv = self._argv
        if type(argv) is not bytes:
            return argv
        if argv.endswith(b'"]') and b"\\" not in argv:
            # no escapes: strings hold no quotes, so '","' only ever separates two
            return tuple(argv[2:-2].decode("utf-8").split('","'))
        return tuple(leading_json(argv.decode("utf-8")))  # the list; the fields after it are ignored

    @property
    def truncated(self) -> bool:
        if type(self._argv) is not bytes:
            return self._truncated
        return self._argv.endswith(b',"cmdline_truncated":true')


class Process:
    """One process's life: from its Fork (or first event) to its Exit."""

    __slots__ = ("pid", "start_ns", "forked", "parent", "execs", "children",
                 "end_ns", "exit_code", "signal")

    def __init__(self, pid: int, start_ns: int, forked: bool, parent: Optional[Process]):
        self.pid = pid
        self.start_ns = start_ns
        self.forked = forked                  # its Fork was seen (else it ran before)
        self.parent = parent
        # most processes exec once and have no children: share one empty tuple
        # until there is something to hold (a third less memory on big builds)
        self.execs: Sequence[ExecStep] = ()
        self.children: Sequence[Process] = ()  # in order of start: events come in time order
        self.end_ns: Optional[int] = None     # None: no Exit seen
        self.exit_code: Optional[int] = None
        self.signal: Optional[int] = None

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
    return fold_batches(_batched(records, 4096))


def fold_batches(batches: Iterable[list]) -> Recording:
    """fold_processes for batches of records, as the sorter yields them."""
    folder = _Folder()
    with collector_paused():
        for batch in batches:
            if batch and not folder.add_lines(batch):
                for record in batch:
                    folder.add_record(record)
    processes = folder.processes
    roots = [proc for proc in processes if proc.parent is None]
    return Recording(processes, roots, folder.first_ns or 0, folder.last_ns or 0, folder.lost)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while objects that all live to the end pile up.

    A fold makes a few objects per process and keeps every one of them: the
    collector would only walk them again and again, for a third of the time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _batched(records: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# {"Exec":{"timestamp":5,"pid":2,"ppid":1,"pgid":2,"cmdline":["ls"]}} -> (b"Exec", b"5", b"2", b"1", b'["ls"]')
# Forks give (kind, timestamp, parent_pid, child_pid, b""); the others
# (kind, timestamp, pid, ppid, what follows the pgid).  Lost does not match.
_LINE = re.compile(rb'^\{"(\w+)":\{"timestamp":(\d+),"(?:parent_pid|pid)":(\d+),"(?:child_pid|ppid)":(\d+),'
                   rb'"(?:parent_pgid|pgid)":\d+(?:,"cmdline":)?(.*)\}\}$', re.M)
# what follows an Exit's pgid: ,"sid":3,"exit_code":0,"signal":null
_EXIT_STATUS = re.compile(rb'"exit_code":(\d+|null),"signal":(\d+|null)$')


class _Folder:
    """The processes found so far, and each pid's current one."""

    def __init__(self):
        self.processes: List[Process] = []
        self.live: Dict[bytes, Process] = {}  # pid, as its decimal digits -> its current process
        self.first_ns: Optional[int] = None
        self.last_ns: Optional[int] = None
        self.lost = 0
        self.statuses: Dict[bytes, Tuple[Optional[int], Optional[int]]] = {}  # Exit tail -> (code, signal)

    def begin(self, pid: bytes, ppid: Optional[bytes], ts: int, forked: bool) -> Process:
        parent = self.live.get(ppid) if ppid is not None else None
        if parent is not None and parent.end_ns is not None:
            parent = None  # a parent outside the recording (the recorder itself) is not invented
        proc = Process(int(pid), ts, forked, parent)
        if parent is not None:
            if parent.children:
                parent.children.append(proc)
            else:
                parent.children = [proc]
        self.live[pid] = proc
        self.processes.append(proc)
        return proc

    def current(self, pid: bytes, ppid: Optional[bytes], ts: int) -> Process:
        proc = self.live.get(pid)
        if proc is None or proc.end_ns is not None:
            proc = self.begin(pid, ppid, ts, forked=False)
        return proc

    def add_lines(self, batch: list) -> bool:
        """Fold a batch of canonical lines; False (nothing done) when it holds anything else."""
        try:
            text = b"\n".join(batch)
        except TypeError:
            return False  # events decoded from other forms
        lines = _LINE.findall(text)
        if len(lines) != len(batch):
            return False  # Lost, SetSID's sid, ...: the general path
        live, begin, current = self.live, self.begin, self.current
        for kind, ts, pid, other, rest in lines:
            if kind == b"Fork":
                begin(other, pid, int(ts), True)
            elif kind == b"Exec":
                ts = int(ts)
                proc = live.get(pid)
                if proc is None or proc.end_ns is not None:
                    proc = begin(pid, other, ts, False)
                if proc.execs:
                    proc.execs.append(ExecStep(ts, rest))
                else:
                    proc.execs = [ExecStep(ts, rest)]
            elif kind == b"Exit":
                ts = int(ts)
                proc = live.get(pid)
                if proc is None or proc.end_ns is not None:
                    proc = begin(pid, other, ts, False)
                proc.end_ns = ts
                proc.exit_code, proc.signal = self.status(rest)
            else:  # SetSID, SetPGID: a process may first show up here
                current(pid, other, int(ts))
        if self.first_ns is None:
            self.first_ns = int(lines[0][1])
        self.last_ns = int(lines[-1][1])
        return True

    def status(self, tail: bytes) -> Tuple[Optional[int], Optional[int]]:
        """(exit code, signal) from what follows an Exit's pgid; a few distinct tails recur."""
        found = self.statuses.get(tail)
        if found is None:
            match = _EXIT_STATUS.search(tail)
            code, signal = match.groups() if match else (b"null", b"null")
            found = self.statuses[tail] = (None if code == b"null" else int(code),
                                           None if signal == b"null" else int(signal))
        return found

    def add_record(self, record) -> None:
        kind, event = fields_of(record)
        ts = event["timestamp"]
        if self.first_ns is None:
            self.first_ns = ts
        self.last_ns = ts
        if kind == "Fork":
            self.begin(b"%d" % event["child_pid"], b"%d" % event["parent_pid"], ts, forked=True)
        elif kind in ("Exec", "Exit", "SetSID", "SetPGID"):
            proc = self.current(b"%d" % event["pid"], b"%d" % event["ppid"], ts)
            if kind == "Exec":
                step = ExecStep(ts, tuple(event["cmdline"]), bool(event.get("cmdline_truncated")))
                if proc.execs:
                    proc.execs.append(step)
                else:
                    proc.execs = [step]
            elif kind == "Exit":
                proc.end_ns = ts
                proc.exit_code = event.get("exit_code")
                proc.signal = event.get("signal")
        elif kind == "Lost":
            self.lost += event["count"]
