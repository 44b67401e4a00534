"""`record -p PID`: what was already running, read from /proc, put in front of the probes' events.

Consumes a pid (take_snapshot) and then the parsed batches of bpftrace's
lines (reconcile); produces the same batches, headed by one Exec for each
process of the tree that was running when the recording began, for example

    Exec(5300000000, 1234, 1, 1234, ("nginx", "-g", "daemon off;"), filename="/usr/sbin/nginx", sid=1234)

Their forks and execs happened before the recording, so these Execs only say
what each one was running then (the man page says so).

Why the snapshot is taken after bpftrace has started: bpftrace runs its BEGIN
probe before it attaches the others, which takes a while (half a second
here), and reads its output only once they are all attached.  So once the
PT_BEGIN line has been read, every event is seen: /proc is read then, and
the recording begins with it.  The events from before it come from probes
partly attached (a Fork whose child's Exec and Exit were not watched yet)
and are dropped: the snapshot tells what was running instead.  Reading /proc
takes a few milliseconds, during which the probes see what happens too; what
they saw then wins over the snapshot (see reconcile).
"""

from __future__ import annotations

import os
import time
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from proctrace.events import Exec, Exit, Fork, SetPGID, SetSID
from proctrace.record import process
from proctrace.record.markers import End, Final, Tick

__all__ = ["Snapshot", "take_snapshot", "reconcile", "report_unseen_exits", "read_cmdline"]

_EVENTS = (Fork, Exec, Exit, SetSID, SetPGID)


class Snapshot(NamedTuple):
    """The tree as /proc showed it, read from start_ns to end_ns; its Execs are stamped start_ns."""

    start_ns: int
    end_ns: int
    execs: Tuple[Exec, ...]


def take_snapshot(pid: int) -> Snapshot:
    """Exec events standing for `pid` and its live descendants, as /proc shows them now."""
    start = time.monotonic_ns()
    table = _proc_table()  # one pass: what is read while /proc changes is kept short
    # `-p $$` from a shell: proctrace (and bpftrace) are descendants too, but not part of the story
    ours = {os.getpid(), *_descendants(table, os.getpid())}
    events = []
    for member in [pid] + [p for p in _descendants(table, pid) if p not in ours]:
        if member not in table:
            continue
        ppid, pgid, sid = table[member]
        argv = read_cmdline(member)
        if not argv and process.read_proc_stat(member) is None:
            continue  # it ended meanwhile: its Exit says so (see _merge)
        try:
            filename: Optional[str] = os.readlink(f"/proc/{member}/exe")
        except OSError:
            filename = None
        events.append(Exec(start, member, ppid, pgid, argv, filename=filename, sid=sid))
    return Snapshot(start, time.monotonic_ns(), tuple(events))


def reconcile(batches: Iterable[list], snapshot: Snapshot, *, say) -> Iterator[list]:
    """The parsed batches, headed by the snapshot's Execs, with what the probes saw before it dropped.

    The batches are held until bpftrace has printed every event up to the
    end of the snapshot: an epoch is complete when its dump ends, so once a
    dump asked for after the snapshot has ended, the next one's has too.
    Or until the root's exit is told (Final): everything up to it has been
    printed, and no tick comes after it (a root that ends within 0.2 s of
    the snapshot would otherwise hold the recording for ever).
    """
    batches = iter(batches)
    held: list = []
    asked_ns: Optional[int] = None  # when the latest dump was asked for
    for batch in batches:
        held.extend(batch)
        if any(isinstance(item, (End, Final)) for item in batch):
            break
        complete = False
        for item in batch:
            if isinstance(item, Tick):
                complete = complete or (asked_ns is not None and asked_ns > snapshot.end_ns)
                asked_ns = item.timestamp
        if complete:
            break
    yield _merge(held, snapshot, say)
    yield from batches


def _merge(items: List, snapshot: Snapshot, say) -> list:
    """The snapshot's Execs, then the probes' events from its start on.

    A process forked or exec'd while /proc was read is told by the probes'
    events (the snapshot may show it after its exec, with the program it
    was not yet running when the recording began); one that ended then,
    before /proc could be read, has only its Exit, and that is said.
    """
    told, ended, kept = set(), [], []
    for item in items:
        if isinstance(item, _EVENTS):
            if item.timestamp < snapshot.start_ns:
                continue
            if item.timestamp < snapshot.end_ns:
                if isinstance(item, Fork):
                    told.add(item.child_pid)
                elif isinstance(item, Exec):
                    told.add(item.pid)
                elif isinstance(item, Exit):
                    ended.append(item.pid)
        kept.append(item)
    read = {event.pid for event in snapshot.execs}
    unread = sorted(pid for pid in ended if pid not in read and pid not in told)
    if unread:
        noun = "process" if len(unread) == 1 else "processes"
        say(f"{len(unread)} {noun} of the tree ended as the recording began, before /proc could be read: "
            f"only the Exit is recorded, not the command line (pid {', '.join(map(str, unread))})")
    return [event for event in snapshot.execs if event.pid not in told] + kept


def report_unseen_exits(snapshot: Snapshot, alive: Dict[int, Tuple[str, ...]], root: int, say) -> None:
    """Say which processes of the snapshot ended with no Exit in the recording.

    bpftrace finds them by their ancestry: one whose parent ends is adopted
    out of the tree, and its end is not seen (unless it forked or exec'd
    since the snapshot, which made bpftrace track it).
    """
    read = {event.pid for event in snapshot.execs}
    gone = [(pid, argv) for pid, argv in sorted(alive.items())
            if pid in read and pid != root and not process.pid_alive(pid)]
    if not gone:
        return
    noun, them = ("process", "it") if len(gone) == 1 else ("processes", "them")
    say(f"{len(gone)} {noun} of the snapshot left the tree when a parent ended, and ended unseen: "
        f"the recording has no Exit for {them}:")
    for pid, argv in gone:
        say(f"  {pid} {' '.join(argv)}")


def read_cmdline(pid: int) -> Tuple[str, ...]:
    """A live process's argv from /proc (empty when unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            data = file.read()
    except OSError:
        return ()
    if data.endswith(b"\0"):
        data = data[:-1]
    return tuple(arg.decode("utf-8", "surrogateescape") for arg in data.split(b"\0")) if data else ()


def _proc_table() -> Dict[int, Tuple[int, int, int]]:
    """pid -> (ppid, pgid, sid) of every live process, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = process.read_proc_stat(int(name))
            if stat is not None:
                table[int(name)] = stat
    return table


def _descendants(table: Dict[int, Tuple[int, int, int]], root: int) -> List[int]:
    """The descendants of `root` in `table`, parents before children."""
    children: Dict[int, List[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, queue = [], [root]
    while queue:
        for child in sorted(children.get(queue.pop(0), ())):
            found.append(child)
            queue.append(child)
    return found
