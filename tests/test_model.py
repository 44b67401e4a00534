"""The fold of events into processes: the fast path for canonical lines agrees with the general one."""

from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, Lost, SetPGID, SetSID, to_json
from proctrace.model import fold_batches, fold_processes

# the characters argv decoding has to get right, from an explicit alphabet:
# the default one makes hypothesis build a Unicode table first, which is slow
argv = st.lists(st.text(alphabet='ab ",]\\\n\u00e9\udcff', max_size=6), max_size=4).map(tuple)


@st.composite
def histories(draw):
    """Timestamp-ordered events of processes whose pids (from a small set) get reused."""
    events, live, ts = [], {1}, 0
    for _ in range(draw(st.integers(0, 40))):
        ts += draw(st.integers(0, 3))
        action = draw(st.sampled_from(["fork", "exec", "exit", "setsid", "setpgid", "lost", "stray"]))
        pid = draw(st.sampled_from(sorted(live))) if live else 1
        if action == "fork":
            child = draw(st.integers(1, 6))
            events.append(Fork(ts, pid, child, pid))
            live.add(child)
        elif action == "exec":
            truncated = draw(st.booleans())
            events.append(Exec(ts, pid, 1, pid, draw(argv), draw(st.none() | st.just("/bin/x")),
                               draw(st.none() | st.integers(1, 9)), truncated))
        elif action == "exit":
            code = draw(st.none() | st.integers(0, 3))
            signal = draw(st.integers(1, 15)) if code is None and draw(st.booleans()) else None
            events.append(Exit(ts, pid, 1, pid, draw(st.none() | st.integers(1, 9)), code, signal))
            live.discard(pid)
        elif action == "setsid":
            events.append(SetSID(ts, pid, 1, pid, pid))
        elif action == "setpgid":
            events.append(SetPGID(ts, pid, 1, pid))
        elif action == "lost":
            events.append(Lost(ts, draw(st.integers(1, 5))))
        else:  # an event for a pid never forked in the recording
            events.append(Exec(ts, draw(st.integers(7, 9)), 1, 1, ("stray",)))
    return events


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
