"""What took the time: the critical path, own and weighted time, concurrency, outliving processes.

Every function reads the process model (model.Recording) and changes
nothing in it.  A process without an Exit counts as running until the
recording's last event.

    critical_path(recording, root) -> [Segment(pid=10, start_ns=0, end_ns=5_000_000, command=("make",)), ...]
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate, compress, count, islice, repeat
from operator import add, and_, attrgetter, mul, sub, truediv

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

    from proctrace.model import ExecStep, Process, Recording

__all__ = ["Concurrency", "Segment", "critical_path", "end_of", "outlived", "outlived_parent", "own_times",
           "own_times_of", "weighted_times", "peak_concurrency", "subtree", "DEFAULT_SLACK_FRACTION"]

# Siblings whose exit is within this share of the root's wall time of the
# chosen child's are near-critical: a little faster, and they would be on it.
DEFAULT_SLACK_FRACTION = 0.05


def end_of(proc: Process, recording: Recording) -> int:
    """When the process ended, or the recording's end when no Exit was seen."""
    return proc.end_ns if proc.end_ns is not None else recording.last_ns


def outlived_parent(proc: Process, recording: Recording) -> bool:
    """Whether the process was still running when its parent exited."""
    parent = proc.parent
    if parent is None or parent.end_ns is None:
        return False
    return proc.end_ns is None or proc.end_ns > parent.end_ns


def subtree(root: Process) -> Iterator[Process]:
    """The process and its descendants, depth first, children in order of start."""
    stack = [root]
    while stack:  # a loop, not recursion: fork chains can be deep
        proc = stack.pop()
        yield proc
        stack.extend(reversed(proc.children))


class Segment:
    """A stretch of the critical path: `proc` was running `step`'s program and waiting for nobody.

    `near` lists the siblings of the child chosen where this stretch began
    a join, nearest first, with how much later they would have had to exit
    to be chosen; `near_total` counts them all when `near` was cut short
    (critical_path's `near_limit`).
    """

    __slots__ = ("proc", "start_ns", "end_ns", "step", "near", "near_total")

    def __init__(self, proc: Process, start_ns: int, end_ns: int, step: Optional[ExecStep],
                 near: List[Tuple[Process, int]], near_total: Optional[int] = None):
        self.proc = proc
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.step = step
        self.near = near
        self.near_total = len(near) if near_total is None else near_total

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def command(self) -> Tuple[str, ...]:
        return self.step.cmdline if self.step is not None else ()

    def __repr__(self) -> str:
        return f"Segment(pid={self.pid}, start_ns={self.start_ns}, end_ns={self.end_ns})"


def critical_path(recording: Recording, root: Process, *, slack_ns: Optional[int] = None,
                  near_limit: Optional[int] = None) -> List[Segment]:
    """The chain of work that decided when `root` ended, in time order.

    Walk back from the root's exit: at each point take the child whose exit
    is the latest at or before it (the join is assumed at that exit: no
    wait() times are recorded), count the time after that exit as the
    parent's own, go into the child, and carry on in the parent from the
    child's fork.  Children that outlived their parent are never on it.  The
    segments tile the root's lifetime exactly.  Each join keeps at most
    `near_limit` near-critical siblings (None: all): in a big parallel build
    most siblings of a job are within the slack, and every join listing all
    of them would cost time and memory quadratic in the jobs.
    """
    root_end = end_of(root, recording)
    if slack_ns is None:
        slack_ns = int((root_end - root.start_ns) * DEFAULT_SLACK_FRACTION)
    pieces: List[Tuple[Process, int, int, List[Tuple[Process, int]], int]] = []
    # each frame: a process, the time reached in it, its joinable children by
    # exit time and how many of them are still candidates (a bound, not a
    # slice: slicing at every join would copy the children again and again)
    ends, children = _joinable(root)
    stack = [(root, root_end, ends, children, len(children), [], 0)]
    while stack:
        proc, until, ends, children, bound, near, near_total = stack.pop()
        index = bisect_right(ends, until, 0, bound) - 1
        while index >= 0 and children[index].start_ns < proc.start_ns:
            index -= 1  # (a child cannot start before its parent; stay safe on odd input)
        if index < 0:
            pieces.append((proc, proc.start_ns, until, near, near_total))
            continue
        child = children[index]
        pieces.append((proc, child.end_ns, until, near, near_total))
        # the siblings that exited within the slack before it, nearest first
        low = bisect_left(ends, child.end_ns - slack_ns, 0, index)
        first = low if near_limit is None else max(low, index - near_limit)
        siblings = [(other, child.end_ns - other.end_ns) for other in reversed(children[first:index])]
        stack.append((proc, child.start_ns, ends, children, index, [], 0))
        child_ends, grandchildren = _joinable(child)
        stack.append((child, child.end_ns, child_ends, grandchildren, len(grandchildren), siblings, index - low))
    segments: List[Segment] = []
    for proc, start, end, near, near_total in reversed(pieces):
        segments.extend(_by_image(proc, start, end, near, near_total))
    return segments


def _joinable(proc: Process) -> Tuple[List[int], List[Process]]:
    """The children that exited no later than their parent, by exit time."""
    if not proc.children:
        return [], []
    children = sorted((child for child in proc.children
                       if child.end_ns is not None and (proc.end_ns is None or child.end_ns <= proc.end_ns)),
                      key=lambda child: child.end_ns)
    return [child.end_ns for child in children], children


def _by_image(proc: Process, start: int, end: int, near: List[Tuple[Process, int]],
              near_total: int) -> Iterator[Segment]:
    """A stretch of own time, cut where the process exec'd a new program."""
    if end <= start:
        return
    # (two execs at one instant: one cut, the later exec's image after it)
    cuts = list(dict.fromkeys(step.timestamp for step in proc.execs if start < step.timestamp < end))
    for begin, stop in zip([start] + cuts, cuts + [end]):
        yield Segment(proc, begin, stop, proc.step_at(begin), *((near, near_total) if begin == start else ([], 0)))


def own_times(recording: Recording) -> Dict[Process, int]:
    """Each process's own time: the part of its life when none of its children was alive."""
    return dict(zip(recording.processes, own_times_of(recording.processes, recording)))


def own_times_of(procs: Sequence[Process], recording: Recording) -> List[int]:
    """The own time of each of these processes of the recording, in their order (a list: a table
    of a million processes costs more)."""
    last = recording.last_ns
    ends = list(map(attrgetter("end_ns"), procs))
    if None in ends:
        ends = [last if end is None else end for end in ends]
    own = list(map(sub, ends, map(attrgetter("start_ns"), procs)))  # most processes: no children
    for index in compress(count(), map(attrgetter("children"), procs)):
        start, end = procs[index].start_ns, ends[index]
        covered, reach = 0, start
        for child in procs[index].children:  # in order of start
            child_start, child_end = child.start_ns, child.end_ns
            if child_start < reach:
                child_start = reach
            if child_end is None or child_end > end:
                child_end = end
            if child_end > child_start:
                covered += child_end - child_start
                reach = child_end
        own[index] = max(end - start - covered, 0)
    return own


class Concurrency:
    """How many processes ran at each moment of a recording, from one sweep, and what follows from it:
    the peak, and each process's weighted time (each moment divided among the processes running then).

    The sweep is one integer a start or end: its time, then a bit set for
    a start (so that ends come before starts), then the point's place, so
    that one sort in C orders a million of them and says where each
    process's points went.  The clock at a point is the time up to it with
    each moment so divided; a process's weighted time is the clock's
    advance over its life (points at one time share one clock value: the
    gaps between them are 0).  `weights` holds it for each of `procs` (the
    recording's processes unless given, in their order).
    """

    __slots__ = ("peak", "peak_ns", "procs", "weights")

    def __init__(self, recording: Recording, procs: Optional[Sequence[Process]] = None):
        self.procs = procs = recording.processes if procs is None else procs
        count = len(procs)
        times = list(map(attrgetter("end_ns"), procs))
        if None in times:
            times = [recording.last_ns if end is None else end for end in times]
        starts = list(map(attrgetter("start_ns"), procs))
        # each point's key: its time, then 1 for a start (after the ends), then its place among the
        # points (a process's end's is its own, its start's that plus count); made by C loops
        unit = 1 << (2 * count).bit_length()
        keys = list(map(add, map(mul, times, repeat(2 * unit)), range(count)))
        keys += map(add, map(mul, starts, repeat(2 * unit)), range(unit + count, unit + 2 * count))
        times += starts
        del starts
        keys.sort()
        places = array("q", map(and_, keys, repeat(unit - 1)))
        del keys
        times = list(map(times.__getitem__, places))  # in order
        # kept as machine integers and floats where they fit: a third of the memory of lists
        running = _packed("q", lambda: accumulate([1 if place >= count else -1 for place in places]))
        self.peak = max(running, default=0)
        self.peak_ns = times[running.index(self.peak)] if procs else recording.first_ns
        # one running where none did: no process counts that stretch
        gaps = map(sub, islice(times, 1, None), times)
        clock = array("d", accumulate(map(truediv, gaps, [count or 1 for count in running]), initial=0.0))
        del running, times
        at = array("d", bytes(16 * count))  # the clock at each point, by place
        for place, value in zip(places, clock):
            at[place] = value
        self.weights = array("d", map(sub, islice(at, count), islice(at, count, None)))

    def heaviest(self, count: int) -> List[Tuple[Process, float]]:
        """The `count` processes of largest weighted time, largest first (the first of equals first)."""
        weights = self.weights
        return [(self.procs[index], weights[index])
                for index in heapq.nlargest(count, range(len(weights)), key=weights.__getitem__)]


def _packed(code: str, values: Callable[[], Iterable]) -> Sequence:
    """An array of what `values()` gives, or a list when a value does not fit in 64 bits (timestamps
    may be any size)."""
    try:
        return array(code, values())
    except OverflowError:
        return list(values())


def weighted_times(recording: Recording) -> Dict[Process, float]:
    """Each process's share of the wall time: each moment divided among the processes running then.

    Summed over all processes it is the time during which anything ran.
    """
    sweep = Concurrency(recording)
    return dict(zip(sweep.procs, sweep.weights))


def peak_concurrency(recording: Recording) -> Tuple[int, int]:
    """The most processes alive at once, and when that was first reached."""
    sweep = Concurrency(recording)
    return sweep.peak, sweep.peak_ns


def outlived(recording: Recording, root: Process) -> List[Tuple[Process, int]]:
    """The root's descendants still running when it exited, with how long they ran past it."""
    root_end = root.end_ns
    if root_end is None:
        return []
    # the few processes alive after the root's exit first, then which of them descend from it
    late = [proc for proc in recording.processes if proc.end_ns is None or proc.end_ns > root_end]
    return [(proc, end_of(proc, recording) - root_end) for proc in late if proc is not root and _descends(proc, root)]


def _descends(proc: Process, root: Process) -> bool:
    parent = proc.parent
    while parent is not None:
        if parent is root:
            return True
        parent = parent.parent
    return False
