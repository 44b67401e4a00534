"""The analysis, made fast for a million events, must give what its first, plain versions gave.

The plain versions are kept here as oracles: the critical path walk that
copied its children lists at each step (quadratic in a parent's children),
the sweeps that sorted tuples, the outlived walk that always walked.
"""

from bisect import bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.analysis import (_by_image, _joinable, critical_path, end_of, outlived, own_times, peak_concurrency,
                                subtree, weighted_times)
from proctrace.events import Exec, Exit, Fork
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from strategies import histories


def _plain_critical_path(recording, root, slack_ns):
    """The first version, which copied its children lists at every step (kept as the oracle)."""
    pieces = []
    stack = [(root, end_of(root, recording), _joinable(root), [])]
    while stack:
        proc, until, (ends, children), near = stack.pop()
        index = bisect_right(ends, until) - 1
        while index >= 0 and children[index].start_ns < proc.start_ns:
            index -= 1
        if index < 0:
            pieces.append((proc, proc.start_ns, until, near))
            continue
        child = children[index]
        pieces.append((proc, child.end_ns, until, near))
        siblings = [(other, child.end_ns - other.end_ns) for other in children[:index]
                    if child.end_ns - other.end_ns <= slack_ns and other.end_ns <= until]
        stack.append((proc, child.start_ns, (ends[:index], children[:index]), []))
        stack.append((child, child.end_ns, _joinable(child), siblings[::-1]))
    return [segment for proc, start, end, near in reversed(pieces) for segment in _by_image(proc, start, end, near, len(near))]


def _plain_own_times(recording):
    own = {}
    for proc in recording.processes:
        start, end = proc.start_ns, end_of(proc, recording)
        covered, reach = 0, start
        for child in proc.children:
            child_start, child_end = max(child.start_ns, reach), min(end_of(child, recording), end)
            if child_end > child_start:
                covered += child_end - child_start
                reach = child_end
        own[proc] = max(end - start - covered, 0)
    return own


def _plain_sweep(recording):
    points = []
    for index, proc in enumerate(recording.processes):
        points.append((proc.start_ns, 1, index))
        points.append((end_of(proc, recording), -1, index))
    points.sort(key=lambda point: (point[0], point[1]))
    return points


def _plain_weighted_times(recording):
    clock, running, previous = 0.0, 0, None
    at_start, weighted = {}, {}
    for time, delta, index in _plain_sweep(recording):
        if running and previous is not None:
            clock += (time - previous) / running
        previous = time
        running += delta
        if delta > 0:
            at_start[index] = clock
        else:
            weighted[recording.processes[index]] = clock - at_start.pop(index, clock)
    return weighted


def _plain_peak(recording):
    running = peak = 0
    when = recording.first_ns
    for time, delta, _ in _plain_sweep(recording):
        running += delta
        if running > peak:
            peak, when = running, time
    return peak, when


def _plain_outlived(recording, root):
    if root.end_ns is None:
        return []
    return [(proc, end_of(proc, recording) - root.end_ns) for proc in subtree(root)
            if proc is not root and (proc.end_ns is None or proc.end_ns > root.end_ns)]


@settings(max_examples=200, deadline=None)
@given(histories())
def test_times_peak_and_outlived_are_the_plain_versions(events):
    recording = fold([items_of_events(events)])
    assert own_times(recording) == _plain_own_times(recording)
    weighted, plain = weighted_times(recording), _plain_weighted_times(recording)
    assert weighted.keys() == plain.keys()
    for proc, value in weighted.items():  # floats: summed in another order, they may differ in the last bits
        assert abs(value - plain[proc]) <= 1e-9 * max(1.0, abs(plain[proc])), proc
    peak, plain = peak_concurrency(recording), _plain_peak(recording)
    assert peak[0] == plain[0] and (peak == plain or peak[0] == 0)  # when nothing ran at all, no time is right
    for root in recording.roots:  # a lost exit can leave two processes with one key: the same objects, any order
        assert sorted(outlived(recording, root), key=_identity) == sorted(_plain_outlived(recording, root), key=_identity)


def _identity(pair):
    return id(pair[0]), pair[1]


def _shape(segments):
    return [(s.proc.key, s.start_ns, s.end_ns, s.step.timestamp if s.step else None,
             [(p.key, slack) for p, slack in s.near]) for s in segments]


@settings(max_examples=150, deadline=None)
@given(histories(), st.integers(0, 6))
def test_the_walk_finds_the_plain_walks_path(events, slack_ns):
    recording = fold([items_of_events(events)])
    for root in recording.roots:
        assert _shape(critical_path(recording, root, slack_ns=slack_ns)) == \
            _shape(_plain_critical_path(recording, root, slack_ns))


def test_a_wide_parent_costs_a_walk_not_a_square():
    # 3,000 children, each forked after the previous exited: every one is on the path
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("make",))]
    for i in range(3000):
        pid = 10 + i
        events += [Fork(10 * i + 2, 2, pid, 2), Exec(10 * i + 3, pid, 2, 2, ("cc",)),
                   Exit(10 * i + 9, pid, 2, 2, None, 0, None)]
    events.append(Exit(40000, 2, 1, 2, None, 0, None))
    recording = fold([items_of_events(events)])
    path = critical_path(recording, recording.roots[0], slack_ns=20)
    assert sum(s.pid != 2 for s in path) == 2 * 3000  # each child: its fork image, then cc
    assert path[0].start_ns == 0 and path[-1].end_ns == 40000
    assert all(a.end_ns == b.start_ns for a, b in zip(path, path[1:]))
    assert max(len(s.near) for s in path) == 2  # the two siblings that exited within 20 ns before


def test_outlived_gives_both_processes_that_share_a_key():
    # pid 3 forked twice in one nanosecond (its exit lost): two processes, one key, both outlive the root
    events = [Fork(0, 0, 1, 0), Fork(0, 1, 2, 1), Fork(0, 1, 3, 1), Fork(0, 2, 3, 2), Exit(0, 1, 0, 1, exit_code=0)]
    recording = fold([items_of_events(events)])
    root, = [proc for proc in recording.processes if proc.pid == 1]
    found = outlived(recording, root)
    assert sorted(found, key=_identity) == sorted(_plain_outlived(recording, root), key=_identity)
    assert [proc.pid for proc, _ in found].count(3) == 2
