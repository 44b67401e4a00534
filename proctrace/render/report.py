"""What summary and summary-json report, worked out once from the model: one Report.

The report is about one process, the main root (text.main_root: the only
root, or the first that ran something): its wall time, its critical path
and the processes that outlived it.  Counts, the slowest processes, the
programs, failures and what the recording lacks cover the whole recording
as rendered (after --pid and --min-duration).  Offsets are counted from
the main root's start.  Commands are not decoded here: each format reads
those of the processes it shows.

    report(recording).wall_ns -> 1_500_000_000
"""

from __future__ import annotations

import heapq
from collections import Counter
from itertools import accumulate, chain, compress, count, repeat
from operator import attrgetter, gt, sub

from proctrace.analysis import DEFAULT_SLACK_FRACTION, Concurrency, critical_path, end_of, outlived, own_times_of
from proctrace.model import programs_of
from proctrace.render.text import main_root

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from proctrace.analysis import Segment
    from proctrace.model import Process, Recording

__all__ = ["Report", "report", "TOP", "NEAR"]

TOP = 10   # entries in each of the slowest, most frequent and critical path's program lists
NEAR = 3   # near-critical siblings kept for each join


class Report:
    """The summary's content: processes and numbers (ns), before any formatting."""

    __slots__ = ("recording", "root", "other_roots", "origin_ns", "wall_ns", "until_last_exit_ns", "processes",
                 "execs", "peak", "peak_at_ns", "path", "path_programs", "slack_ns", "slowest_own",
                 "slowest_weighted", "programs", "failures", "outlived", "no_exit", "unforked")

    def __init__(self, recording: Recording, root: Optional[Process], other_roots: List[Process]):
        self.recording = recording
        self.root = root
        self.other_roots = other_roots
        self.origin_ns = root.start_ns if root is not None else recording.first_ns
        self.wall_ns = end_of(root, recording) - root.start_ns if root is not None else 0
        self.until_last_exit_ns: Optional[int] = None  # the last exit of a process that outlived the root
        self.processes = len(recording.processes)
        self.execs = 0
        self.peak, self.peak_at_ns = 0, 0
        self.path: List[Segment] = []
        self.path_programs: List[Tuple[str, int, int]] = []  # (program, ns on the path, segments)
        self.slack_ns = 0
        self.slowest_own: List[Tuple[Process, int]] = []
        self.slowest_weighted: List[Tuple[Process, float]] = []
        self.programs: List[Tuple[str, int, int]] = []       # (program, execs, total ns)
        self.failures: List[Process] = []
        self.outlived: List[Tuple[Process, int]] = []        # (process, ns it ran past the root's exit)
        self.no_exit: List[Process] = []
        self.unforked: List[Process] = []

    def lifetime(self, proc: Process) -> int:
        return end_of(proc, self.recording) - proc.start_ns


def report(recording: Recording, *, slack_fraction: Optional[float] = None) -> Report:
    """The process model -> its report.

    Each analysis's bulk (a value for every process, a sweep of every start
    and end) is dropped before the next begins: together they would double
    the model's memory on a big recording.
    """
    root, others = main_root(recording)
    out = Report(recording, root, others)
    procs = recording.processes
    out.failures = list(compress(procs, map(attrgetter("failed"), procs)))
    out.no_exit = [proc for proc in procs if proc.end_ns is None]
    out.unforked = recording.unforked()
    out.programs, out.execs = _programs(recording)
    if root is None:
        return out
    out.slack_ns = int(out.wall_ns * (DEFAULT_SLACK_FRACTION if slack_fraction is None else slack_fraction))
    out.path = critical_path(recording, root, slack_ns=out.slack_ns, near_limit=NEAR)
    out.path_programs = _path_programs(out.path)
    own = own_times_of(procs, recording)
    out.slowest_own = [(procs[index], own[index])
                       for index in heapq.nlargest(TOP, range(len(own)), key=own.__getitem__)]
    del own
    sweep = Concurrency(recording)
    out.peak, out.peak_at_ns = sweep.peak, sweep.peak_ns - out.origin_ns
    out.slowest_weighted = sweep.heaviest(TOP)
    del sweep
    out.outlived = sorted(outlived(recording, root), key=lambda pair: (-pair[1], pair[0].start_ns))
    exits = [proc.end_ns for proc, _ in out.outlived if proc.end_ns is not None]
    if exits:
        out.until_last_exit_ns = max(exits) - root.start_ns
    return out


def _path_programs(path: List[Segment]) -> List[Tuple[str, int, int]]:
    """The programs the critical path ran, by time on it: (program, ns, segments), the longest first.

    A long path (a build's thousands of short steps) says more summed by
    program than segment by segment.
    """
    named = [segment for segment in path if segment.step is not None]
    spans: Dict[str, List[int]] = {}
    for segment, name in zip(named, programs_of([segment.step for segment in named])):
        entry = spans.setdefault(_base(name), [0, 0])
        entry[0] += segment.duration_ns
        entry[1] += 1
    unknown = [segment.duration_ns for segment in path if segment.step is None]
    if unknown:
        spans["(before its first exec)"] = [sum(unknown), len(unknown)]
    ranked = sorted(spans.items(), key=lambda item: (-item[1][0], item[0]))
    return [(name, ns, count) for name, (ns, count) in ranked[:TOP]]


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1] or name or "(empty argv)"


_CHUNK = 16384  # processes read together: their texts joined are a few MB, not the whole recording's


def _programs(recording: Recording) -> Tuple[List[Tuple[str, int, int]], int]:
    """The most frequent programs, (name, execs, total ns from each exec to the next or the exit), and
    how many execs there were.

    A program is argv[0] without its directory, read for every exec without
    decoding the rest of its argv (see model.programs_of).
    """
    last = recording.last_ns
    counts: Dict[str, int] = Counter()
    totals: Dict[str, int] = {}
    procs = recording.processes
    for begin in range(0, len(procs), _CHUNK):
        part = procs[begin:begin + _CHUNK]
        execs = list(map(attrgetter("execs"), part))
        sizes = list(map(len, execs))
        steps = list(chain.from_iterable(execs))
        ends = list(map(attrgetter("end_ns"), part))
        if None in ends:
            ends = [last if end is None else end for end in ends]
        # each program runs until the process's exit, or its next exec in the few that exec'd again
        stops = list(chain.from_iterable(map(repeat, ends, sizes)))
        firsts = list(accumulate(sizes, initial=0))
        for index in compress(count(), map(gt, sizes, repeat(1))):
            own, first = execs[index], firsts[index]
            stops[first:first + len(own) - 1] = [step.timestamp for step in own[1:]]
        names = programs_of(steps)
        counts.update(names)
        for name, span in zip(names, map(sub, stops, map(attrgetter("timestamp"), steps))):
            totals[name] = totals.get(name, 0) + span
    merged: Dict[str, List[int]] = {}  # by base name: /usr/bin/cc and cc are one program
    for name in counts:
        entry = merged.setdefault(_base(name), [0, 0])
        entry[0] += counts[name]
        entry[1] += totals[name]
    ranked = sorted(merged.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return [(name, count, total) for name, (count, total) in ranked[:TOP]], sum(counts.values())
