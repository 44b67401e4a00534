"""The fold of events into processes: the fast path for canonical lines agrees with the general one."""

from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, to_json
from proctrace.model import fold_batches, fold_processes
from strategies import histories

def _summary(recording):
    def proc(p):
        return (p.pid, p.start_ns, p.end_ns, p.forked, p.exit_code, p.signal,
                p.parent.pid if p.parent else None, [c.pid for c in p.children],
                [(s.timestamp, s.cmdline, s.truncated) for s in p.execs], p.command)
    return ([proc(p) for p in recording.processes], [p.pid for p in recording.roots],
            recording.first_ns, recording.last_ns, recording.lost)


@settings(max_examples=300)
@given(histories(), st.integers(1, 8))
def test_lines_and_events_fold_into_the_same_processes(events, batch_size):
    lines = [to_json(event).encode() for event in events]
    batches = [lines[i:i + batch_size] for i in range(0, len(lines), batch_size)]
    assert _summary(fold_batches(batches)) == _summary(fold_processes(events))


def test_a_reused_pid_is_a_new_process_and_an_outside_parent_is_not_invented():
    events = [Fork(1, 100, 2, 100), Exec(2, 2, 100, 2, ("a",)), Exit(3, 2, 100, 2, None, 0, None),
              Fork(4, 100, 2, 100), Exit(5, 2, 100, 2, None, None, 9)]
    recording = fold_batches([[to_json(event).encode() for event in events]])
    first, second = recording.processes
    assert (first.command, first.end_ns, first.exit_code) == (("a",), 3, 0)
    assert (second.start_ns, second.end_ns, second.signal, second.parent) == (4, 5, 9, None)
    assert recording.roots == [first, second]
