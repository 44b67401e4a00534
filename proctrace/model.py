"""The process model: one fold of a timestamp-ordered recording into processes.

Events say what happened at one instant; the tree views need each process's
life: when it started, what it ran (each exec), how and when it ended, who
its parent and children are, its process group and session.  A pid can be
reused within one recording, so a process is keyed by its pid *and* its
start: a Fork or Exec for a pid whose process already exited starts a new one.

The fold reads fold items, one tuple an event, `(code, timestamp, pid,
parent pid, rest)`, where `rest` is the JSON text of the event's other
fields (see canonical.fold_columns, which reads them from canonical lines
in one regex pass, and pipeline.items_of_events, which makes the same
items of decoded events).  The rest is kept as text and decoded only when a view
asks for it: most views read a few fields of a few processes, and a
million-event recording decoded in full would cost seconds and hundreds of
megabytes.

    Recording.processes -> [Process(pid=4242, start_ns=0, end_ns=812000000, execs=[ExecStep(...)], ...)]
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

from proctrace.canonical import EXEC, EXIT, FORK, LOST, SETPGID, SETSID, cmdline_of, first_words, rest_fields

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

__all__ = ["ExecStep", "GroupChange", "Process", "Recording", "fold", "collector_paused",
           "programs_of", "raw_fields", "raw_fields_of"]


class ExecStep:
    """One exec of a process: when, and the exact argv, filename, group and session it had.

    The fields stay JSON text, decoded each time they are read: a model of
    a million events cannot keep them all decoded (hundreds of megabytes).
    """

    __slots__ = ("timestamp", "_rest")

    def __init__(self, timestamp: int, rest: bytes):
        self.timestamp = timestamp
        self._rest = rest  # the Exec's fields from pgid on

    def fields(self) -> dict:
        """All the Exec's fields but the timestamp and pids, decoded at once."""
        return rest_fields(self._rest)

    @property
    def cmdline(self) -> Tuple[str, ...]:
        return cmdline_of(self._rest)

    @property
    def filename(self) -> Optional[str]:
        return self.fields().get("filename")

    @property
    def pgid(self) -> int:
        return self.fields()["pgid"]

    @property
    def sid(self) -> Optional[int]:
        return self.fields().get("sid")

    @property
    def truncated(self) -> bool:
        return self._rest.endswith(b',"cmdline_truncated":true')

    def __repr__(self) -> str:
        return f"ExecStep({self.timestamp}, {self.cmdline!r})"


def programs_of(steps: Sequence[ExecStep]) -> List[str]:
    """The argv[0] of each step ("" for an empty argv), read without decoding the rest of its argv:
    the summary groups a million execs by their first words."""
    return first_words([step._rest for step in steps])


class GroupChange:
    """A setsid or setpgid of a process: the group (and session) it moved to, and when."""

    __slots__ = ("timestamp", "kind", "pgid", "sid")

    def __init__(self, timestamp: int, kind: str, pgid: int, sid: Optional[int]):
        self.timestamp = timestamp
        self.kind = kind  # "setsid" or "setpgid"
        self.pgid = pgid
        self.sid = sid

    def __repr__(self) -> str:
        return f"GroupChange({self.timestamp}, {self.kind!r}, pgid={self.pgid}, sid={self.sid})"


class Process:
    """One process's life: from its Fork (or first event) to its Exit.

    `ppid` is the parent pid the events name; `parent` is that process when
    the recording holds it (None for a root).  `end_ns` is None when no
    Exit was seen.  What most processes have one of (an exec) or none of
    (children, setsid) is kept without a list until there are more.
    """

    __slots__ = ("pid", "_ppid", "start_ns", "forked", "parent", "_execs", "children", "changes",
                 "end_ns", "start_pgid", "_exit")

    def __init__(self, pid: int, ppid: Optional[int], start_ns: int, forked: bool, parent: Optional[Process],
                 start_pgid: Optional[int] = None):
        self.pid = pid
        self._ppid = None if parent is not None and parent.pid == ppid else ppid
        self.start_ns = start_ns
        self.forked = forked                   # its Fork was seen (else it ran before the recording)
        self.parent = parent
        self._execs = None                     # None, one ExecStep, or a list of them
        self.children: Sequence[Process] = ()  # in order of start: events come in time order
        self.changes: Sequence[GroupChange] = ()
        self.end_ns: Optional[int] = None
        self.start_pgid = start_pgid           # its group at its fork (its parent's); None: fork not seen
        self._exit: Optional[Tuple[int, Optional[int], Optional[int], Optional[int]]] = None  # pgid, sid, code, signal

    @property
    def ppid(self) -> Optional[int]:
        return self._ppid if self._ppid is not None or self.parent is None else self.parent.pid

    @property
    def key(self) -> Tuple[int, int]:
        """What tells this process from any other of the recording, even one with its pid."""
        return self.pid, self.start_ns

    @property
    def execs(self) -> Sequence[ExecStep]:
        execs = self._execs
        if execs is None:
            return ()
        return (execs,) if type(execs) is ExecStep else execs

    def add_exec(self, step: ExecStep) -> None:
        execs = self._execs
        if execs is None:
            self._execs = step
        elif type(execs) is ExecStep:
            self._execs = [execs, step]
        else:
            execs.append(step)

    @property
    def exit_code(self) -> Optional[int]:
        return self._exit[2] if self._exit is not None else None

    @property
    def signal(self) -> Optional[int]:
        return self._exit[3] if self._exit is not None else None

    @property
    def exit_pgid(self) -> Optional[int]:
        return self._exit[0] if self._exit is not None else None

    @property
    def exit_sid(self) -> Optional[int]:
        return self._exit[1] if self._exit is not None else None

    @property
    def failed(self) -> bool:
        """Killed by a signal or exited with a non-zero code."""
        status = self._exit
        return status is not None and (status[3] is not None or bool(status[2]))

    @property
    def command(self) -> Tuple[str, ...]:
        """What it ran last; a process that never exec'd runs its parent's program."""
        step = self.command_step()
        return step.cmdline if step is not None else ()

    def command_step(self) -> Optional[ExecStep]:
        """The exec whose program it ran last: its own last one, or its parent's at its fork."""
        execs = self._execs
        if execs is not None:
            return execs if type(execs) is ExecStep else execs[-1]
        return self.step_at(self.start_ns)

    def step_at(self, ns: int) -> Optional[ExecStep]:
        """The exec whose program this process was running at time `ns`."""
        current = None
        proc: Optional[Process] = self
        while proc is not None:  # a loop, not recursion: fork chains can be deep
            for step in proc.execs:
                if step.timestamp > ns:
                    break
                current = step
            if current is not None:
                return current
            ns, proc = proc.start_ns, proc.parent
        return None

    def __repr__(self) -> str:
        return f"Process(pid={self.pid}, start_ns={self.start_ns}, end_ns={self.end_ns})"


def raw_fields(holder) -> bytes:
    """The JSON members (no braces) of an exec's, a group change's or a process's Exit fields
    from pgid on, in the recording's canonical form (events.to_json's); b"" for a process
    with no Exit.

    For views that copy fields into JSON of their own without reading them:
    decoding every exec of a big recording costs a second.
    """
    if type(holder) is ExecStep:
        return holder._rest
    if type(holder) is GroupChange:
        return b'"pgid":%d' % holder.pgid + (b',"sid":%d' % holder.sid if holder.sid is not None else b"")
    if holder._exit is None:
        return b""
    pgid, sid, code, signal = holder._exit
    text = b'"pgid":%d' % pgid + (b',"sid":%d' % sid if sid is not None else b"")
    if code is None and signal is None:
        return text
    return text + b',"exit_code":%s,"signal":%s' % (b"null" if code is None else b"%d" % code,
                                                     b"null" if signal is None else b"%d" % signal)


def raw_fields_of(holders) -> List[bytes]:
    """raw_fields of each of many holders: an exec's text as it is, each distinct Exit's
    written once (most processes of a build end alike)."""
    written: Dict[object, bytes] = {}
    out = []
    add = out.append
    for holder in holders:
        kind = type(holder)
        if kind is ExecStep:
            add(holder._rest)
        elif kind is Process:
            text = written.get(holder._exit)
            if text is None:
                text = written[holder._exit] = raw_fields(holder)
            add(text)
        else:
            add(raw_fields(holder))
    return out


class Recording:
    """The processes of a recording, its time span and what it is missing.

    `hidden` and `hidden_below_ns` say how many processes a view left out
    (selection.hide_short_leaves) and below which duration.
    """

    __slots__ = ("processes", "roots", "first_ns", "last_ns", "lost", "duplicate_exits", "hidden",
                 "hidden_below_ns")

    def __init__(self, processes: List[Process], roots: List[Process], first_ns: int, last_ns: int,
                 lost: List[Tuple[int, int]], duplicate_exits: int = 0):
        self.processes = processes            # in order of first appearance
        self.roots = roots                    # processes whose parent is not in the recording
        self.first_ns = first_ns
        self.last_ns = last_ns
        self.lost = lost                      # (timestamp, count) of each Lost event
        self.duplicate_exits = duplicate_exits  # Exits for a pid that had exited already: ignored
        self.hidden = 0
        self.hidden_below_ns = 0

    @property
    def lost_count(self) -> int:
        """How many events the kernel dropped."""
        return sum(count for _, count in self.lost)

    def unforked(self) -> List[Process]:
        """Processes whose fork was not seen, but for the first (the recorded
        command, which record starts before the probes see it fork)."""
        return [proc for proc in self.processes[1:] if not proc.forked]

    def dismantle(self) -> None:
        """Cut the links between parents and children, so that the processes
        are freed as soon as they are no longer used, with no help from the
        cycle collector: its walks over a big recording (when it resumes, and
        at exit) take most of a second."""
        for proc in self.processes:
            proc.parent = None
            proc.children = ()
        self.processes = self.roots = []


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


# pid_max is at most 2**22: the fold keeps the pids that exited as bits (512 KiB for a
# million-event recording, where a set took 20 MB), and sets them itself (a method call
# per Exit cost more than the bit work)
_PID_BITS = 1 << 22


def _adopted(proc: Process) -> Process:
    """The process, added to its parent's children (the last: events come in time order)."""
    parent = proc.parent
    if parent is not None:
        if parent.children:
            parent.children.append(proc)
        else:
            parent.children = [proc]
    return proc


def fold(batches: Iterable[Iterable[tuple]], *, warn: Callable[[str], None] = lambda message: None) -> Recording:
    """Batches of fold items in timestamp order -> the recording's processes.

    The loop is written out for the common events (Fork, Exec, Exit): it
    runs once an event, and the calls it made (a function a process, a
    method a pid) were a fifth of a million-event fold.
    """
    processes: List[Process] = []
    live: Dict[int, Process] = {}   # pid -> its process, until that exits
    # pids some process of which exited: an Exit for one that is not live is a duplicate
    # (a pid leaves `live` only by an Exit, so a pid reused since is live again)
    exited, exited_large = bytearray(_PID_BITS >> 3), set()
    lost: List[Tuple[int, int]] = []
    # an Exit's fields after its pids, and a Fork's parent_pgid, recur: decoded once each
    statuses: Dict[bytes, tuple] = {}
    pgids: Dict[bytes, int] = {}
    first_ns = last_ns = None
    duplicates = 0
    find, add = live.get, processes.append

    with collector_paused():
        for batch in batches:
            for code, ts, pid, parent, rest in batch:
                if first_ns is None:
                    first_ns = ts
                last_ns = ts
                if code == FORK:
                    pgid = pgids.get(rest)
                    if pgid is None:
                        pgid = pgids[rest] = rest_fields(rest)["parent_pgid"]
                    parent_proc = find(parent)
                    proc = live[pid] = Process(pid, parent, ts, True, parent_proc, pgid)
                    add(proc)
                    if parent_proc is not None:  # _adopted, written out
                        if parent_proc.children:
                            parent_proc.children.append(proc)
                        else:
                            parent_proc.children = [proc]
                    continue
                if code == LOST:
                    lost.append((ts, pid))
                    continue
                proc = find(pid)
                if proc is None:
                    if code == EXIT and (exited[pid >> 3] >> (pid & 7) & 1 if pid < _PID_BITS
                                         else pid in exited_large):
                        duplicates += 1
                        if duplicates == 1:
                            warn(f"pid {pid} exited twice (at {ts} ns too): the second Exit is ignored")
                        continue
                    # seldom: a process that started before the recording
                    proc = live[pid] = _adopted(Process(pid, parent, ts, False, find(parent)))
                    add(proc)
                if code == EXEC:
                    step = ExecStep(ts, rest)
                    execs = proc._execs
                    if execs is None:
                        proc._execs = step
                    else:
                        proc.add_exec(step)
                elif code == EXIT:
                    status = statuses.get(rest)
                    if status is None:
                        fields = rest_fields(rest)
                        status = statuses[rest] = (fields["pgid"], fields.get("sid"), fields.get("exit_code"),
                                                   fields.get("signal"))
                    proc.end_ns = ts
                    proc._exit = status
                    del live[pid]  # a later event for its pid is a new process
                    if pid < _PID_BITS:
                        exited[pid >> 3] |= 1 << (pid & 7)
                    else:
                        exited_large.add(pid)
                else:
                    fields = rest_fields(rest)
                    change = GroupChange(ts, "setsid" if code == SETSID else "setpgid", fields["pgid"],
                                         fields.get("sid"))
                    if proc.changes:
                        proc.changes.append(change)
                    else:
                        proc.changes = [change]
    roots = [proc for proc in processes if proc.parent is None]
    return Recording(processes, roots, first_ns or 0, last_ns or 0, lost, duplicates)
