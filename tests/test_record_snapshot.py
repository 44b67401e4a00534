"""How `record -p` puts its /proc snapshot in front of the probes' events (issue 10, point 5)."""

from proctrace.events import Exec, Exit, Fork, Lost, SetPGID
from proctrace.record.markers import Begin, Final, Tick
from proctrace.record.snapshot import Snapshot, reconcile

START, END = 1_000, 1_010
SH = Exec(START, 10, 1, 10, ("sh", "-c", "loop"), filename="/bin/sh", sid=10)
SLEEP = Exec(START, 11, 10, 10, ("sleep", "1"), filename="/bin/sleep", sid=10)
SNAPSHOT = Snapshot(START, END, (SH, SLEEP))


def _run(batches, snapshot=SNAPSHOT):
    said = []
    out = list(reconcile(iter(batches), snapshot, say=said.append))
    return out, said


def test_events_from_before_the_snapshot_are_dropped_and_the_snapshot_heads_the_rest():
    # probes partly attached: a Fork whose child's Exec and Exit were not watched yet
    early = [Begin(500, 10), Fork(600, 10, 12, 10), SetPGID(700, 12, 10, 12), Lost(700, 1)]
    later = [Exit(1_500, 11, 10, 10, sid=10, exit_code=0), Fork(1_600, 10, 13, 10)]
    out, said = _run([early, later, [Tick(1_100)], [Tick(1_200)]])
    assert out == [[SH, SLEEP, Begin(500, 10), Lost(700, 1), *later, Tick(1_100), Tick(1_200)]]
    assert said == []


def test_what_the_probes_saw_while_proc_was_read_wins_over_the_snapshot():
    fork = Fork(1_003, 10, 11, 10)        # the sleep was forked during the scan: its Fork tells it
    exec_ = Exec(1_004, 10, 1, 10, ("sh", "-c", "other"), filename="/bin/sh", sid=10)  # so was sh's exec
    out, said = _run([[fork, exec_, Tick(1_050)], [Tick(1_150)]])
    assert out == [[fork, exec_, Tick(1_050), Tick(1_150)]]
    assert said == []


def test_a_process_that_ended_before_proc_could_be_read_is_said():
    gone = Exit(1_005, 14, 10, 10, sid=10, exit_code=0)
    out, said = _run([[gone, Tick(1_050), Tick(1_150)]])
    assert out == [[SH, SLEEP, gone, Tick(1_050), Tick(1_150)]]
    assert said == ["1 process of the tree ended as the recording began, before /proc could be read: "
                    "only the Exit is recorded, not the command line (pid 14)"]


def test_batches_are_held_until_the_events_up_to_the_end_of_the_snapshot_are_all_printed():
    pulled = []

    def batches():
        # the dump asked for at 1_005 may not hold everything until 1_010; the
        # one after the dump asked for at 1_020 does
        for batch in ([Tick(1_005)], [Tick(1_020)], [Tick(1_120)], [Tick(1_220)]):
            pulled.append(batch[0].timestamp)
            yield batch

    out = reconcile(batches(), SNAPSHOT, say=lambda message: None)
    first = next(out)
    assert pulled == [1_005, 1_020, 1_120]
    assert first == [SH, SLEEP, Tick(1_005), Tick(1_020), Tick(1_120)]
    assert list(out) == [[Tick(1_220)]]


def test_the_roots_exit_told_before_the_snapshot_is_complete_ends_the_wait():
    # Regression: a root that exits within two ticks of the snapshot: after
    # its Final the parser drops every tick, so waiting for one hung record.
    exit_ = Exit(1_015, 10, 1, 10, sid=10, exit_code=4)

    def batches():
        yield [Tick(1_005), exit_]
        yield [Final(3)]
        raise AssertionError("reconcile waited for a tick after the Final")

    out = reconcile(batches(), SNAPSHOT, say=lambda message: None)
    assert next(out) == [SH, SLEEP, Tick(1_005), exit_, Final(3)]


def test_a_stream_that_ends_early_still_gets_the_snapshot():
    out, _ = _run([[Begin(500, 10)]])
    assert out == [[SH, SLEEP, Begin(500, 10)]]
    out, _ = _run([])
    assert out == [[SH, SLEEP]]
