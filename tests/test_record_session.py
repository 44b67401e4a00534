"""What record says while it reads the parsed stream: losses are told at once, and counted."""

from proctrace.events import Exec
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
