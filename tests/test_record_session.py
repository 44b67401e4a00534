"""What record says while it reads the parsed stream: losses are told at once, and counted."""

from proctrace.events import Exec, Fork
from proctrace.record.markers import CutShort
from proctrace.record.session import _observe, _Tree


def test_execs_that_lost_part_of_their_argv_are_told_once_and_counted():
    said = []
    tree = _Tree(1, {1: ("sh",)})
    cut = [Exec(10, 2, 1, 1, ("cc", "-c"), "/usr/bin/cc", 1, True), CutShort(2),
           Exec(11, 3, 1, 1, ("cc", "-o"), "/usr/bin/cc", 1, True), CutShort(3)]
    out = list(_observe([cut], tree, [], say=said.append, debug=False))
    assert out == [([10, 11], [cut[0], cut[2]])]  # the markers are not events
    assert tree.cut_short == 2
    assert len(said) == 1 and "cut short" in said[0]


def _busy_epoch(epoch, stamps, extra=()):
    from test_record_parse import dump, entry
    return dump(epoch, [entry(epoch, t, 100 + i, 1, values=(1, 1)) for i, t in enumerate(stamps)] + list(extra))


def test_with_a_snapshot_busy_epochs_are_read_with_their_tick():
    # -p: reconcile drops what came before the snapshot and lets the probes' Fork of a
    # process replace its snapshot Exec; it can only do so for events that come with their
    # epoch's Tick, so record holds nothing then (a held epoch came out unfiltered)
    from test_record_parse import entry

    from proctrace.record.markers import Tick
    from proctrace.record.session import read_items
    from proctrace.record.snapshot import Snapshot
    lines = [b"PT_BEGIN 1 1"] + _busy_epoch(0, range(1000, 1040))
    lines += _busy_epoch(1, range(5500, 5539), [entry(1, 5600, 77, 1, values=(1, 1))])[:-1] + [b"PT_DUMPED 1 7000"]
    lines += _busy_epoch(2, range(8000, 8040))[:-1] + [b"PT_DUMPED 2 8100"] + _busy_epoch(3, [9000])
    snapshot = Snapshot(5000, 6000, (Exec(5000, 77, 1, 1, ("sleep",), None, 1),))
    items = [item for batch in read_items(([line] for line in lines), snapshot=snapshot, follow_orphans=False,
                                          say=print) for item in batch if not isinstance(item, Tick)]
    events = [item for item in items if isinstance(item, (Exec, Fork))]
    assert not [e for e in events if e.timestamp < 5000]
    assert not [e for e in events if isinstance(e, Exec) and e.pid == 77]
    assert len([e for e in events if e.timestamp >= 5500]) == 40 + 40 + 1
