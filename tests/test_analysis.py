"""The analyses of the process model: critical path, own and weighted time, concurrency, outliving.

The critical path is checked by properties on generated trees (its
segments tile the root's wall time, in order, each inside its process's
life, never through a process that outlived its parent); the sweeps
against plain oracles that walk every nanosecond.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.analysis import (Concurrency, critical_path, end_of, outlived, outlived_parent, own_times,
                                peak_concurrency, subtree, weighted_times)
from proctrace.events import Exec, Exit, Fork, Lost
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from strategies import histories


def _recording(events):
    return fold([items_of_events(events)])


@st.composite
def trees(draw):
    """Events of a random process tree: children start inside their parent's life, may outlive it or
    never exit, and exec now and then."""
    root_end = draw(st.integers(1, 400))
    pending = [(1, None, 0, root_end)]  # pid, parent pid, start, end (None: no exit)
    events, next_pid = [], 2
    while pending and next_pid < 25:
        pid, parent, start, end = pending.pop()
        events.append((start, 0, Fork(start, parent if parent is not None else 0, pid, 1)))
        horizon = end if end is not None else start + 400
        for _ in range(draw(st.integers(0, 2))):
            at = draw(st.integers(start, horizon))
            events.append((at, 1, Exec(at, pid, parent or 0, 1, (f"prog{at}", "x"))))
        if end is not None:
            events.append((end, 3, Exit(end, pid, parent or 0, 1, None, draw(st.sampled_from([0, 0, 1])), None)))
        for _ in range(draw(st.integers(0, 3))):
            if next_pid >= 25:
                break
            child_start = draw(st.integers(start, horizon))
            kind = draw(st.sampled_from(["inside", "inside", "inside", "outlives", "no exit"]))
            if kind == "inside":
                child_end = draw(st.integers(child_start, horizon))
            elif kind == "outlives":
                child_end = draw(st.integers(child_start, horizon + 100))
            else:
                child_end = None
            pending.append((next_pid, pid, child_start, child_end))
            next_pid += 1
    if draw(st.booleans()):
        at = draw(st.integers(0, root_end))
        events.append((at, 2, Lost(at, 2)))
    events.sort(key=lambda item: (item[0], item[1]))  # stable: a parent's fork before its children's
    return [event for _, _, event in events]


def _check_tiling(recording, root, segments):
    start, end = root.start_ns, end_of(root, recording)
    assert sum(segment.duration_ns for segment in segments) == end - start
    if end == start:
        assert segments == []
        return
    assert segments[0].start_ns == start and segments[-1].end_ns == end
    family = set(subtree(root))
    for before, after in zip(segments, segments[1:]):
        assert before.end_ns == after.start_ns  # in time order, no gap, no overlap
    for segment in segments:
        proc = segment.proc
        assert segment.duration_ns > 0
        assert proc.start_ns <= segment.start_ns and segment.end_ns <= end_of(proc, recording)
        assert proc in family
        assert segment.step is proc.step_at(segment.start_ns)  # the image active then
        while proc is not root:  # no process on the path outlived its parent
            assert not outlived_parent(proc, recording) and proc.end_ns is not None
            proc = proc.parent


@settings(max_examples=250, deadline=None)
@given(trees())
def test_the_critical_path_tiles_the_roots_wall_time(events):
    recording = _recording(events)
    for root in recording.roots:
        _check_tiling(recording, root, critical_path(recording, root))


@settings(max_examples=150, deadline=None)
@given(histories())
def test_the_critical_path_tiles_any_history(events):
    recording = _recording(events)
    for root in recording.roots:
        _check_tiling(recording, root, critical_path(recording, root, slack_ns=2))


def test_the_path_goes_through_the_child_that_ended_last_and_on_from_its_fork():
    #  make [0, 100]: cc a [10, 60], cc b [20, 80], cc c [85, 95]; b ran past a, c after both
    events = [Fork(0, 1, 10, 1), Exec(0, 10, 1, 10, ("make",)),
              Fork(10, 10, 11, 10), Exec(11, 11, 10, 10, ("cc", "a")),
              Fork(20, 10, 12, 10), Exec(21, 12, 10, 10, ("cc", "b")),
              Exit(60, 11, 10, 10, None, 0, None), Exit(80, 12, 10, 10, None, 0, None),
              Fork(85, 10, 13, 10), Exec(86, 13, 10, 10, ("cc", "c")), Exit(95, 13, 10, 10, None, 0, None),
              Exit(100, 10, 1, 10, None, 0, None)]
    recording = _recording(events)
    path = critical_path(recording, recording.roots[0], slack_ns=30)
    assert [(s.pid, s.start_ns, s.end_ns, s.command) for s in path] == [
        (10, 0, 20, ("make",)), (12, 20, 21, ("make",)), (12, 21, 80, ("cc", "b")), (10, 80, 85, ("make",)),
        (13, 85, 86, ("make",)), (13, 86, 95, ("cc", "c")), (10, 95, 100, ("make",))]
    near = [(s.pid, [(p.pid, slack) for p, slack in s.near]) for s in path if s.near]
    assert near == [(12, [(11, 20)]), (13, [(12, 15)])]  # 12 exited 15 before 13, the chosen child


def test_a_child_that_outlived_its_parent_is_never_on_the_path():
    events = [Fork(0, 1, 10, 1), Fork(1, 10, 11, 10), Exit(5, 10, 1, 10, None, 0, None),
              Exit(9, 11, 10, 10, None, 0, None)]
    recording = _recording(events)
    root = recording.roots[0]
    assert [(s.pid, s.start_ns, s.end_ns) for s in critical_path(recording, root)] == [(10, 0, 5)]
    assert [(p.pid, ns) for p, ns in outlived(recording, root)] == [(11, 4)]


def test_near_siblings_are_cut_to_the_nearest_and_counted():
    children = [Fork(i, 10, 100 + i, 10) for i in range(1, 9)]
    exits = [Exit(50 + i, 100 + i, 10, 10, None, 0, None) for i in range(1, 9)]
    recording = _recording([Fork(0, 1, 10, 1)] + children + exits + [Exit(70, 10, 1, 10, None, 0, None)])
    root = recording.roots[0]
    full = critical_path(recording, root, slack_ns=5)
    cut = critical_path(recording, root, slack_ns=5, near_limit=2)
    chosen = next(s for s in full if s.near)
    assert chosen.pid == 108
    assert [(p.pid, slack) for p, slack in chosen.near] == [(107, 1), (106, 2), (105, 3), (104, 4), (103, 5)]
    shorter = next(s for s in cut if s.near)
    assert [(p.pid, slack) for p, slack in shorter.near] == [(107, 1), (106, 2)] and shorter.near_total == 5
    assert [(s.pid, s.start_ns, s.end_ns) for s in full] == [(s.pid, s.start_ns, s.end_ns) for s in cut]


def _alive(recording, t):
    """The processes alive during [t, t+1), as the sweeps count them."""
    return [proc for proc in recording.processes if proc.start_ns <= t < end_of(proc, recording)]


def _pieces(recording, procs):
    """[a, b) stretches between consecutive start and end times of `procs`: no one starts or ends inside one."""
    times = sorted({proc.start_ns for proc in procs} | {end_of(proc, recording) for proc in procs})
    return zip(times, times[1:])


@settings(max_examples=150, deadline=None)
@given(st.one_of(trees(), histories()))
def test_weighted_time_divides_each_moment_among_the_processes_running(events):
    recording = _recording(events)
    if not recording.processes:
        return
    weighted = weighted_times(recording)
    expected = {proc: 0.0 for proc in recording.processes}
    busy = 0
    for a, b in _pieces(recording, recording.processes):
        alive = _alive(recording, a)
        busy += (b - a) * bool(alive)
        for proc in alive:
            expected[proc] += (b - a) / len(alive)
    assert weighted.keys() == expected.keys()
    for proc in expected:
        assert weighted[proc] == pytest.approx(expected[proc], abs=1e-6)
    assert sum(weighted.values()) == pytest.approx(busy, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.one_of(trees(), histories()), st.integers(1, 5))
def test_the_heaviest_are_the_top_of_every_weighted_time(events, count):
    recording = _recording(events)
    weighted = weighted_times(recording)
    heaviest = Concurrency(recording).heaviest(count)
    assert len(heaviest) == min(count, len(recording.processes))
    ranked = sorted(weighted.values(), reverse=True)[:count]
    assert [weight for _, weight in heaviest] == pytest.approx(ranked, abs=1e-6)
    for proc, weight in heaviest:
        assert weight == pytest.approx(weighted[proc], abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.one_of(trees(), histories()))
def test_own_time_is_the_time_no_child_was_alive(events):
    recording = _recording(events)
    own = own_times(recording)
    for proc in recording.processes:
        end = end_of(proc, recording)
        alone = sum(min(b, end) - max(a, proc.start_ns) for a, b in _pieces(recording, [proc, *proc.children])
                    if proc.start_ns <= a < end
                    and not any(child.start_ns <= a < end_of(child, recording) for child in proc.children))
        assert own[proc] == alone


@settings(max_examples=150, deadline=None)
@given(st.one_of(trees(), histories()))
def test_peak_concurrency_is_the_most_processes_alive_at_once(events):
    recording = _recording(events)
    peak, when = peak_concurrency(recording)
    # a process alive for no time at all is never counted: ends come before starts at one instant
    points = sorted({proc.start_ns for proc in recording.processes})
    counts = [(len(_alive(recording, t)), t) for t in points]
    best = max((count for count, _ in counts), default=0)
    assert peak == best
    if best:
        assert when == min(t for count, t in counts if count == best)


def test_timestamps_beyond_64_bits_are_swept_too():
    big = 2**64
    recording = _recording([Fork(big, 1, 10, 1), Fork(big + 5, 10, 11, 10), Exit(big + 10, 11, 10, 10, None, 0, None),
                            Exit(big + 20, 10, 1, 10, None, 0, None)])
    assert peak_concurrency(recording) == (2, big + 5)
    assert sorted(weighted_times(recording).values()) == [2.5, 17.5]
    assert [(s.pid, s.start_ns - big, s.end_ns - big) for s in critical_path(recording, recording.roots[0])] == \
        [(10, 0, 5), (11, 5, 10), (10, 10, 20)]
