"""The critical path walk: the same path as the plain quadratic walk it replaced, in linear time."""

from bisect import bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.analysis import _by_image, _joinable, critical_path, end_of
from proctrace.events import Exec, Exit, Fork
from proctrace.model import fold, items_of_events
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
    return [segment for proc, start, end, near in reversed(pieces) for segment in _by_image(proc, start, end, near)]


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
