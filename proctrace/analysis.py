"""What took the time: the critical path, own and weighted time, concurrency, outliving processes.

Every function reads the process model (model.Recording) and changes
nothing in it.  A process without an Exit counts as running until the
recording's last event.

    critical_path(recording, root) -> [Segment(pid=10, start_ns=0, end_ns=5_000_000, command=("make",)), ...]
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from operator import sub

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, Iterator, List, Optional, Tuple

    from proctrace.model import ExecStep, Process, Recording

__all__ = ["Segment", "critical_path", "end_of", "outlived", "outlived_parent", "own_times",
           "weighted_times", "peak_concurrency", "subtree", "DEFAULT_SLACK_FRACTION"]

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
    a join, with how much later they would have had to exit to be chosen.
    """

    __slots__ = ("proc", "start_ns", "end_ns", "step", "near")

    def __init__(self, proc: Process, start_ns: int, end_ns: int, step: Optional[ExecStep],
                 near: List[Tuple[Process, int]]):
        self.proc = proc
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.step = step
        self.near = near

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


def critical_path(recording: Recording, root: Process, *, slack_ns: Optional[int] = None) -> List[Segment]:
    """The chain of work that decided when `root` ended, in time order.

    Walk back from the root's exit: at each point take the child whose exit
    is the latest at or before it (the join is assumed at that exit: no
    wait() times are recorded), count the time after that exit as the
    parent's own, go into the child, and carry on in the parent from the
    child's fork.  Children that outlived their parent are never on it.  The
    segments tile the root's lifetime exactly.
    """
    root_end = end_of(root, recording)
    if slack_ns is None:
        slack_ns = int((root_end - root.start_ns) * DEFAULT_SLACK_FRACTION)
    pieces: List[Tuple[Process, int, int, List[Tuple[Process, int]]]] = []
    # each frame: a process, the time reached in it, its joinable children by
    # exit time, and how many of them are left (a bound, not a copy: a parent
    # of thousands of children is visited once per child on the path)
    ends, children = _joinable(root)
    stack = [(root, root_end, ends, children, len(children), [])]
    while stack:
        proc, until, ends, children, left, near = stack.pop()
        index = bisect_right(ends, until, 0, left) - 1
        while index >= 0 and children[index].start_ns < proc.start_ns:
            index -= 1  # (a child cannot start before its parent; stay safe on odd input)
        if index < 0:
            pieces.append((proc, proc.start_ns, until, near))
            continue
        child = children[index]
        pieces.append((proc, child.end_ns, until, near))
        # by exit time, so the near ones are those just before it (all at or before `until`)
        first = bisect_left(ends, child.end_ns - slack_ns, 0, index)
        siblings = [(other, child.end_ns - other.end_ns) for other in children[first:index]]
        stack.append((proc, child.start_ns, ends, children, index, []))
        child_ends, grandchildren = _joinable(child)
        stack.append((child, child.end_ns, child_ends, grandchildren, len(grandchildren), siblings[::-1]))
    segments: List[Segment] = []
    for proc, start, end, near in reversed(pieces):
        segments.extend(_by_image(proc, start, end, near))
    return segments


def _joinable(proc: Process) -> Tuple[List[int], List[Process]]:
    """The children that exited no later than their parent, by exit time."""
    children = sorted((child for child in proc.children
                       if child.end_ns is not None and (proc.end_ns is None or child.end_ns <= proc.end_ns)),
                      key=lambda child: child.end_ns)
    return [child.end_ns for child in children], children


def _by_image(proc: Process, start: int, end: int, near: List[Tuple[Process, int]]) -> Iterator[Segment]:
    """A stretch of own time, cut where the process exec'd a new program."""
    if end <= start:
        return
    cuts = [step.timestamp for step in proc.execs if start < step.timestamp < end]
    for begin, stop in zip([start] + cuts, cuts + [end]):
        yield Segment(proc, begin, stop, proc.step_at(begin), near if begin == start else [])


def own_times(recording: Recording) -> Dict[Process, int]:
    """Each process's own time: the part of its life when none of its children was alive."""
    last = recording.last_ns
    # most processes have no children: their own time is their life
    own = {proc: max((proc.end_ns if proc.end_ns is not None else last) - proc.start_ns, 0)
           for proc in recording.processes}
    for proc in [proc for proc in recording.processes if proc.children]:
        start, end = proc.start_ns, proc.end_ns if proc.end_ns is not None else last
        covered, reach = 0, start
        for child in proc.children:  # in order of start
            child_end = child.end_ns if child.end_ns is not None else last
            child_start, child_end = max(child.start_ns, reach), min(child_end, end)
            if child_end > child_start:
                covered += child_end - child_start
                reach = child_end
        own[proc] = max(end - start - covered, 0)
    return own


def _sweep(recording: Recording) -> List[int]:
    """Every start and end in time order, the ends first at a time, as whole numbers: time * 2,
    +1 for a start.

    Numbers, not tuples, so that the sort compares machine words, and one
    list sorted in place: a million events make 666,666 points.
    """
    last = recording.last_ns
    points = [proc.start_ns * 2 + 1 for proc in recording.processes]
    points.extend([(proc.end_ns if proc.end_ns is not None else last) * 2 for proc in recording.processes])
    points.sort()
    return points


def weighted_times(recording: Recording) -> Dict[Process, float]:
    """Each process's share of the wall time: each moment divided among the processes running then.

    Summed over all processes it is the time during which anything ran.  One
    sweep over every start and end, each a number that also says whose it is
    (its point * n + the process's place), so that no lookup is needed after it.
    """
    procs = recording.processes
    n, last = len(procs), recording.last_ns
    points = [(proc.start_ns * 2 + 1) * n + index for index, proc in enumerate(procs)]
    points.extend([(proc.end_ns if proc.end_ns is not None else last) * 2 * n + index
                   for index, proc in enumerate(procs)])
    points.sort()
    at_start = array("d", bytes(8 * n))
    at_end = array("d", bytes(8 * n))
    clock, running, previous = 0.0, 0, None
    for point in points:
        point, index = divmod(point, n)
        time = point >> 1
        if running and previous is not None:
            clock += (time - previous) / running
        previous = time
        if point & 1:
            running += 1
            at_start[index] = clock
        else:
            running -= 1
            at_end[index] = clock
    return dict(zip(procs, map(sub, at_end, at_start)))


def peak_concurrency(recording: Recording) -> Tuple[int, int]:
    """The most processes alive at once, and when that was first reached."""
    running = peak = 0
    when = recording.first_ns
    for point in _sweep(recording):
        if point & 1:
            running += 1
            if running > peak:
                peak, when = running, point >> 1
        else:
            running -= 1
    return peak, when


def outlived(recording: Recording, root: Process) -> List[Tuple[Process, int]]:
    """The root's descendants still running when it exited, with how long they ran past it."""
    if root.end_ns is None:
        return []
    if all(proc.end_ns is not None and proc.end_ns <= root.end_ns for proc in recording.processes):
        return []  # nothing ran past it: no need to walk its tree
    return [(proc, end_of(proc, recording) - root.end_ns) for proc in subtree(root)
            if proc is not root and (proc.end_ns is None or proc.end_ns > root.end_ns)]
