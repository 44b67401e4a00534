"""Folds a timestamp-ordered event stream into processes, for renderers that draw a tree.

Events say what happened at one instant; a chart needs each process's life:
when it started, what it ran (each exec), how and when it ended, who its
parent and children are.  A pid can be reused within one recording, so a
process is identified by its pid *and* its place in time: a Fork or Exec for
a pid whose process already exited starts a new one.

A tree needs every event before it can be drawn, so what is kept per
process is small: objects with __slots__, and each exec's argv kept as the
JSON text it came in, decoded only when its command is asked for (or only
the label a renderer made of that text where the line was read).

Speed: the fields the fold needs of a chunk of canonical lines come from
the regex pass that checks them (events.canonical_fields), as a few columns
(fold_columns), not from a JSON decode per line (five times slower).  That
is done where the chunk is read, in the helper process for a large file
(see parallel.py), and the main process only zips the columns into one
small tuple a line (fold_items) and folds those.  Lines in other forms, and
decoded events, take the general path.
"""

from __future__ import annotations

import gc
from array import array
from contextlib import contextmanager
from itertools import compress
from operator import itemgetter
import re

from proctrace.events import ARGV, CODE, FORK_PARENT, PID, PPID, TAIL, TIMESTAMP, canonical_fields, fields_of, leading_json

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

__all__ = ["Process", "ExecStep", "Recording", "fold_processes", "fold_batches", "fold_columns", "fold_items",
           "collector_paused"]


class ExecStep:
    """One exec of a process; its argv is decoded on demand.

    `argv` is either the decoded command line or the JSON text of its cmdline,
    followed by the truncation mark if the Exec line has one:
    `["cc","-c","x.c"]` or `["cc","-c"],"cmdline_truncated":true`.  It may
    also be a str: what a renderer shows of that text, made where the line
    was read (see fold_columns); such a step has a `label` and no cmdline.
    """

    __slots__ = ("timestamp", "_argv", "_truncated")

    def __init__(self, timestamp: int, argv, truncated: bool = False):
        self.timestamp = timestamp
        self._argv = argv
        self._truncated = truncated

    @property
    def cmdline(self) -> Tuple[str, ...]:
        argv = self._argv
        if type(argv) is str:
            raise TypeError("this exec's command line was kept as a label only")
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

    @property
    def label(self) -> Optional[str]:
        """What a renderer made of the command line where it was read, if it did."""
        return self._argv if type(self._argv) is str else None

    @property
    def argv_json(self) -> Optional[bytes]:
        """The JSON text the cmdline came as (with the mark, if truncated); None once decoded."""
        return self._argv if type(self._argv) is bytes else None


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
        step = self.command_step()
        return step.cmdline if step is not None else ()

    def command_at(self, ns: int) -> Tuple[str, ...]:
        """The command line this process was running at time `ns`."""
        step = self.step_at(ns)
        return step.cmdline if step is not None else ()

    def command_step(self) -> Optional[ExecStep]:
        """The exec whose program it ran last: its own last one, or its parent's at its fork."""
        if self.execs:
            return self.execs[-1]
        return self.parent.step_at(self.start_ns) if self.parent is not None else None

    def step_at(self, ns: int) -> Optional[ExecStep]:
        """The exec whose program this process was running at time `ns`."""
        current = None
        for step in self.execs:
            if step.timestamp > ns:
                break
            current = step
        if current is not None:
            return current
        return self.parent.step_at(self.start_ns) if self.parent is not None else None


class Recording:
    """The processes of a recording, its time span and how many events were lost."""

    __slots__ = ("processes", "roots", "first_ns", "last_ns", "lost")

    def __init__(self, processes: List[Process], roots: List[Process], first_ns: int, last_ns: int, lost: int):
        self.processes = processes            # in order of first appearance
        self.roots = roots                    # processes whose parent is not in the recording
        self.first_ns = first_ns
        self.last_ns = last_ns
        self.lost = lost                      # events the kernel dropped

    def dismantle(self) -> None:
        """Cut the links between parents and children, so that the processes
        are freed as soon as they are no longer used, with no help from the
        cycle collector: its walks over a big recording (when it resumes, and
        at exit) take most of a second."""
        for proc in self.processes:
            proc.parent = None
            proc.children = ()
        self.processes = self.roots = []


def fold_processes(records: Iterable) -> Recording:
    """Timestamp-ordered records (events or canonical lines) -> the processes they describe."""
    return fold_batches(_batched(records, 4096))


def fold_batches(batches: Iterable[list]) -> Recording:
    """fold_processes for batches of records, as the sorter yields them.

    A record may also be a fold_items tuple, made where its line was read.
    """
    folder = _Folder()
    with collector_paused():
        for batch in batches:
            if not batch:
                continue
            if all(map(_is_tuple, batch)):
                folder.add_items(batch)
            elif not folder.add_lines(batch):
                for record in batch:
                    if type(record) is tuple:
                        folder.add_items([record])
                    else:
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


_is_tuple = tuple.__instancecheck__

# the third letter of a kind, as canonical_fields gives it
_FORK, _EXEC, _EXIT, _LOST = "r", "e", "i", "s"
_CODES, _PIDS, _FORK_PARENTS, _PPIDS, _ARGVS, _TAILS = map(itemgetter, (CODE, PID, FORK_PARENT, PPID, ARGV, TAIL))
# what follows an Exit's pgid: ,"sid":3,"exit_code":0,"signal":null
_EXIT_STATUS = re.compile(rb'"exit_code":(\d+|null),"signal":(\d+|null)$')


def fold_columns(found: List[tuple], describe: Optional[Callable[[List[bytes]], Optional[List[str]]]] = None
                 ) -> Optional[Tuple[str, array, array, list]]:
    """What the fold needs of canonical lines (events.canonical_fields), as columns:
    (kind codes, pids, their parents' pids, details), a detail being an
    Exec's cmdline in JSON (and its truncation mark) or what follows an
    Exit's pgid; None when there is a Lost among them.

    With `describe`, which turns a list of cmdlines into a str each (or
    None), an Exec's detail is that str instead (ExecStep.label): so a
    renderer makes its labels where the lines are read, in C over many at
    once, rather than one by one later.  It is not asked when a cmdline is
    truncated.

    Columns are compact to pickle (see parallel.py); fold_items makes tuples of them.
    """
    codes = b"".join(map(_CODES, found)).decode("ascii")
    if _LOST in codes:
        return None
    argvs, tails = list(map(_ARGVS, found)), list(map(_TAILS, found))
    details = None
    if describe is not None and b'"cmdline_truncated"' not in b"".join(tails):
        shown = describe(list(compress(argvs, map(_EXEC.__eq__, codes))))
        if shown is not None:
            shown = iter(shown)
            details = [next(shown) if code == _EXEC else tail for code, tail in zip(codes, tails)]
    if details is None:
        details = list(map(bytes.__add__, argvs, tails))  # one is empty (but for a truncated cmdline): no copy
    return (codes, array("Q", map(int, map(_PIDS, found))),
            array("Q", map(int, map(bytes.__add__, map(_FORK_PARENTS, found), map(_PPIDS, found)))), details)


def fold_items(stamps: List[int], columns: Tuple[str, array, array, list]) -> Iterator[tuple]:
    """The lines' timestamps and fold_columns -> a (code, timestamp, pid, parent pid, detail) tuple a line."""
    codes, pids, parents, details = columns
    return zip(codes, stamps, pids.tolist(), parents.tolist(), details)


class _Folder:
    """The processes found so far, and each pid's current one."""

    def __init__(self):
        self.processes: List[Process] = []
        self.live: Dict[int, Process] = {}  # pid -> its process, until that exits
        self.first_ns: Optional[int] = None
        self.last_ns: Optional[int] = None
        self.lost = 0
        self.statuses: Dict[bytes, Tuple[Optional[int], Optional[int]]] = {}  # Exit tail -> (code, signal)

    def begin(self, pid: int, ppid: Optional[int], ts: int, forked: bool) -> Process:
        parent = self.live.get(ppid) if ppid is not None else None
        if parent is not None and parent.end_ns is not None:
            parent = None  # a parent outside the recording (the recorder itself) is not invented
        proc = Process(pid, ts, forked, parent)
        if parent is not None:
            if parent.children:
                parent.children.append(proc)
            else:
                parent.children = [proc]
        self.live[pid] = proc
        self.processes.append(proc)
        return proc

    def current(self, pid: int, ppid: Optional[int], ts: int) -> Process:
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
        found = canonical_fields(text)
        try:
            columns = fold_columns(found) if found is not None else None
        except OverflowError:
            columns = None  # a pid beyond 64 bits
        if columns is None:
            return False  # Lost, ...: the general path
        self.add_items(list(fold_items([int(fields[TIMESTAMP]) for fields in found], columns)))
        return True

    def add_items(self, items: list) -> None:
        """Fold fold_items tuples."""
        live, begin, current, status = self.live, self.begin, self.current, self.status
        for kind, ts, pid, ppid, detail in items:
            if kind == _FORK:
                begin(pid, ppid, ts, True)
            elif kind == _EXEC:
                proc = live.get(pid)
                if proc is None or proc.end_ns is not None:
                    proc = begin(pid, ppid, ts, False)
                if proc.execs:
                    proc.execs.append(ExecStep(ts, detail))
                else:
                    proc.execs = [ExecStep(ts, detail)]
            elif kind == _EXIT:
                proc = live.get(pid)
                if proc is None or proc.end_ns is not None:
                    proc = begin(pid, ppid, ts, False)
                proc.end_ns = ts
                proc.exit_code, proc.signal = status(detail)
                del live[pid]  # a later event for its pid is a new process
            else:  # SetSID, SetPGID: a process may first show up here
                current(pid, ppid, ts)
        if self.first_ns is None:
            self.first_ns = items[0][1]
        self.last_ns = items[-1][1]

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
            self.begin(event["child_pid"], event["parent_pid"], ts, forked=True)
        elif kind in ("Exec", "Exit", "SetSID", "SetPGID"):
            proc = self.current(event["pid"], event["ppid"], ts)
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
                del self.live[event["pid"]]  # a later event for its pid is a new process
        elif kind == "Lost":
            self.lost += event["count"]
