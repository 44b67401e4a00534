"""The fold of events into processes: canonical lines and decoded events give the same model."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, SetPGID, SetSID, to_json
from proctrace import model
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.pipeline import read_model
from proctrace.sort import SortStats
from strategies import histories


def _summary(recording):
    def proc(p):
        return (p.pid, p.ppid, p.start_ns, p.end_ns, p.forked, p.exit_code, p.signal, p.exit_pgid, p.exit_sid,
                p.start_pgid, p.parent.pid if p.parent else None, [c.pid for c in p.children],
                [(s.timestamp, s.cmdline, s.filename, s.pgid, s.sid, s.truncated) for s in p.execs],
                [(c.timestamp, c.kind, c.pgid, c.sid) for c in p.changes], p.command)
    return ([proc(p) for p in recording.processes], [p.pid for p in recording.roots],
            recording.first_ns, recording.last_ns, recording.lost, recording.duplicate_exits)


def _model_of_lines(events, chunk_size):
    data = b"".join(to_json(event).encode() + b"\n" for event in events)
    return read_model(io.BytesIO(data), source="x", window_ns=0, stats=SortStats(), warn=lambda m: None)


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(1, 8))
def test_lines_and_events_fold_into_the_same_processes(events, batch_size):
    if not events:
        return
    batches = [list(items_of_events(events[i:i + batch_size])) for i in range(0, len(events), batch_size)]
    assert _summary(_model_of_lines(events, batch_size)) == _summary(fold(batches))


def test_a_reused_pid_is_a_new_process_and_an_outside_parent_is_not_invented():
    events = [Fork(1, 100, 2, 100), Exec(2, 2, 100, 2, ("a",)), Exit(3, 2, 100, 2, None, 0, None),
              Fork(4, 100, 2, 100), Exit(5, 2, 100, 2, None, None, 9)]
    recording = fold([items_of_events(events)])
    first, second = recording.processes
    assert (first.command, first.end_ns, first.exit_code, first.key) == (("a",), 3, 0, (2, 1))
    assert (second.start_ns, second.end_ns, second.signal, second.parent) == (4, 5, 9, None)
    assert recording.roots == [first, second]


def test_the_model_keeps_groups_sessions_and_filenames():
    events = [Fork(1, 1, 2, 1), Exec(2, 2, 1, 1, ("sh", "-c", "x"), "/bin/sh", 1), SetPGID(3, 2, 1, 2),
              SetSID(4, 2, 1, 2, 2), Exit(5, 2, 1, 2, 2, 3, None)]
    proc, = fold([items_of_events(events)]).processes
    step, = proc.execs
    assert (proc.ppid, proc.start_pgid, step.filename, step.pgid, step.sid) == (1, 1, "/bin/sh", 1, 1)
    assert [(c.kind, c.pgid, c.sid) for c in proc.changes] == [("setpgid", 2, None), ("setsid", 2, 2)]
    assert (proc.exit_pgid, proc.exit_sid, proc.exit_code, proc.failed) == (2, 2, 3, True)


def test_a_duplicated_exit_is_ignored_with_one_warning():
    # issue 10, point 7: a second Exit for a pid drew a phantom second bar
    events = [Fork(1, 1, 2, 1), Exit(2, 2, 1, 2), Exit(3, 2, 1, 2), Exit(4, 2, 1, 2)]
    warnings = []
    recording = fold([items_of_events(events)], warn=warnings.append)
    assert [p.pid for p in recording.processes] == [2]
    assert recording.duplicate_exits == 2 and len(warnings) == 1 and "exited twice" in warnings[0]


@settings(max_examples=200, deadline=None)
@given(histories())
def test_programs_of_reads_each_execs_first_word(events):
    if not events:
        return
    recording = _model_of_lines(events, 1)
    steps = [step for proc in recording.processes for step in proc.execs]
    programs = model.programs_of(steps)
    assert programs == [step.cmdline[0] if step.cmdline else "" for step in steps]
    assert model.programs_of(steps[::-1]) == programs[::-1]
