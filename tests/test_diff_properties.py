"""proctrace diff on generated trees: what it must say whatever the recordings.

    compare(r, r) has no change; stretching a leaf by d moves its key by d; pids never matter.
"""

import io
import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from proctrace.cli import main
from proctrace.diff import compare, normalise_command
from proctrace.diff_report import UNIT, command_text, escape_text, json_report, text_report
from proctrace.events import Exec, Exit, Fork, to_json
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.pipeline import read_model
from proctrace.sort import SortStats
from strategies import arg_text, histories
from test_hostile_input import _check_outcome, mutated

BASE = Path(__file__).parent / "data" / "diff" / "base.jsonl"

# commands of a build; {self} and {parent} become pids, as in /proc/4242/status or a shell's $$
COMMANDS = [("make", "-j2"), ("/bin/sh", "-c", "cc -c a.c"), ("cc", "-c", "a.c"), ("cc", "-c", "b.c"),
            ("cat", "/proc/{self}/status"), ("rm", "/tmp/out.{parent}"), ("kill", "{parent}"),
            ("cc1", "-o", "/tmp/cc{random}.s"), None]  # None: a fork that never execs


@st.composite
def trees(draw):
    """Processes as (parent index, command, start, end), each alive within its parent, in start order."""
    nodes = [(None, ("make", "-j2"), 0, draw(st.integers(10, 10_000)))]
    for _ in range(draw(st.integers(0, 12))):
        parent = draw(st.sampled_from([i for i, (_, _, start, end) in enumerate(nodes) if end - start >= 2]))
        _, _, low, high = nodes[parent]
        start = draw(st.integers(low + 1, high - 1))
        end = draw(st.integers(start, high - 1))
        nodes.append((parent, draw(st.sampled_from(COMMANDS)), start, end))
    order = sorted(range(len(nodes)), key=lambda i: (nodes[i][2], i))  # parents start first: kept first
    where = {old: new for new, old in enumerate(order)}
    return [(None if nodes[i][0] is None else where[nodes[i][0]],) + nodes[i][1:] for i in order]


def events_of(tree, pids, randoms):
    """The events of a tree, with pids[i] the pid of process i and pids[-1] the recorder's."""
    events = []
    for index, (parent, command, start, end) in enumerate(tree):
        pid, ppid = pids[index], pids[-1] if parent is None else pids[parent]
        events.append(((start, 0, index), Fork(start, ppid, pid, ppid)))
        if command is not None:
            argv = tuple(arg.format(self=pid, parent=ppid, random=randoms[index]) for arg in command)
            events.append(((start, 1, index), Exec(start, pid, ppid, ppid, argv)))
        events.append(((end, 2, -index), Exit(end, pid, ppid, ppid, exit_code=0)))
    return [event for _, event in sorted(events, key=lambda pair: pair[0])]


def model(events):
    return fold([items_of_events(events)])


pid_lists = st.lists(st.integers(300, 4_194_304), min_size=14, max_size=14, unique=True)
random_names = st.lists(st.text(alphabet="ABCXYZabcxyz0189", min_size=6, max_size=6), min_size=13, max_size=13)
no_gate = dict(min_delta_ns=0, min_percent=0)


def _same(comparison):
    return (comparison.changes == [] and comparison.hidden == 0 and comparison.only_a == []
            and comparison.only_b == [] and comparison.wall_ns[0] == comparison.wall_ns[1]
            and all(step.time_ns[0] == step.time_ns[1] for step in comparison.critical_path))


@settings(max_examples=100, deadline=None)
@given(trees(), pid_lists, pid_lists, random_names, random_names)
def test_a_recording_compared_with_itself_has_no_change(tree, pids, other_pids, randoms, other_randoms):
    # the same job again: every pid and temporary name new
    assert _same(compare(model(events_of(tree, pids, randoms)), model(events_of(tree, other_pids, other_randoms)),
                         **no_gate))


@settings(max_examples=100, deadline=None)
@given(histories())
def test_any_recording_compared_with_itself_has_no_change(events):
    # histories() reuse pids, have processes without a fork or without an exit, and hostile argvs
    if not events:
        return
    assert _same(compare(model(events), model(events), **no_gate))


def key_of(tree, index, pids, randoms):
    """What diff should key process `index` by: the normalised commands from the root down."""
    chain = []
    while index is not None:
        chain.append(index)
        index = tree[index][0]
    present = frozenset(pids[:len(tree)])
    key = []
    for index in reversed(chain):
        ran = index
        while tree[ran][1] is None:  # a fork runs its parent's program
            ran = tree[ran][0]
        parent = tree[ran][0]
        ppid = pids[-1] if parent is None else pids[parent]
        argv = tuple(arg.format(self=pids[ran], parent=ppid, random=randoms[ran]) for arg in tree[ran][1])
        key.append(normalise_command(argv, present))
    return tuple(key)


@settings(max_examples=100, deadline=None)
@given(trees(), pid_lists, pid_lists, random_names, st.integers(1, 10**9), st.data())
def test_stretching_a_leaf_by_d_moves_its_key_by_exactly_d(tree, pids, other_pids, randoms, d, data):
    leaves = [i for i in range(1, len(tree)) if all(node[0] != i for node in tree)]
    if not leaves:
        return
    leaf = data.draw(st.sampled_from(leaves))
    parent, command, start, end = tree[leaf]
    stretched = tree[:leaf] + [(parent, command, start, end + d)] + tree[leaf + 1:]
    found = compare(model(events_of(tree, pids, randoms)), model(events_of(stretched, other_pids, randoms)),
                    **no_gate)
    deltas = {change.key: change.delta_ns for change in found.changes}
    leaf_key, parent_key = key_of(tree, leaf, pids, randoms), key_of(tree, parent, pids, randoms)
    assert deltas.pop(leaf_key) == d
    # the parent's own time is all that may move besides: its child now covers more of its life
    assert -d <= deltas.pop(parent_key, 0) <= 0
    assert deltas == {}
    assert found.only_a == found.only_b == []


@settings(max_examples=100, deadline=None)
@given(trees(), pid_lists, pid_lists, pid_lists, random_names, st.integers(1, 10**6), st.data())
def test_renumbering_every_pid_changes_nothing(tree, pids, pids_again, other_pids, randoms, d, data):
    stretched = list(tree)
    index = data.draw(st.integers(0, len(tree) - 1))
    parent, command, start, end = tree[index]
    stretched[index] = (parent, command, start, end + (d if index else 0))
    first = compare(model(events_of(tree, pids, randoms)), model(events_of(stretched, other_pids, randoms)))
    again = compare(model(events_of(tree, pids_again, randoms)), model(events_of(stretched, pids, randoms)))
    assert json_report(first, ("a", "b")) == json_report(again, ("a", "b"))
    assert text_report(first, ("a", "b")) == text_report(again, ("a", "b"))


def _unescape(text):
    """escape_text's inverse, from its documented rule: it must give back exactly what was escaped."""
    out, i = [], 0
    named = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
        elif text[i + 1] in named:
            out.append(named[text[i + 1]])
            i += 2
        elif text[i + 1] == "x":
            code = int(text[i + 2:i + 4], 16)
            out.append(chr(code if code < 0x80 else 0xDC00 + code))
            i += 4
        else:
            size = 4 if text[i + 1] == "u" else 8
            assert text[i + 1] in "uU"
            out.append(chr(int(text[i + 2:i + 2 + size], 16)))
            i += 2 + size
    return "".join(out)


any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=30)


@settings(max_examples=500, deadline=None)
@given(st.one_of(arg_text, any_text))
@example("\udc80\x80\\x80\u0080")
@example("\u202e\u2066\u200f\ufeff\u00ad\u2028\U000e0001")
def test_escaping_is_printable_and_loses_nothing(text):
    shown = escape_text(text)
    assert shown.isprintable()
    assert _unescape(shown) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.one_of(arg_text, any_text), min_size=1, max_size=4).map(tuple),
                          st.integers(0, 50)), min_size=1, max_size=6))
def test_hostile_commands_give_printable_text_and_valid_json(children):
    """Every line of the text report is printable; the JSON is UTF-8 and gives the commands back."""
    events, ts = [Fork(0, 1, 2, 1), Exec(0, 2, 1, 1, ("make",))], 0
    for pid, (argv, length) in enumerate(children, 3):
        events += [Fork(ts + 1, 2, pid, 1), Exec(ts + 1, pid, 2, 1, argv), Exit(ts + 1 + length, pid, 2, 1)]
        ts += 1 + length
    events.append(Exit(ts + 1, 2, 1, 1))
    data = "".join(to_json(event) + "\n" for event in events).encode("utf-8")
    a = read_model(io.BytesIO(data), source="a", window_ns=None, stats=SortStats(), warn=lambda message: None)
    empty = model([Fork(0, 1, 2, 1), Exec(0, 2, 1, 1, ("make",)), Exit(1, 2, 1, 1)])
    found = compare(a, empty, **no_gate)
    text = text_report(found, ("a\u202e", "b")).decode("utf-8")
    assert all(line.isprintable() for line in text.split("\n"))
    document = json.loads(json_report(found, ("a", "b")).decode("utf-8"))
    pids = frozenset(range(2, 3 + len(children)))
    expected = {(("make",), normalise_command(argv, pids)) for argv, _ in children}
    assert {tuple(map(tuple, key)) for key in document["only_a"]} == expected


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated())
@example(b'{"Fork":{"timestamp":0,"parent_pid":1,"child_pid":2,"parent_pgid":1}}\n'
         b'{"Exec":{"timestamp":1,"pid":2,"ppid":1,"pgid":2,"cmdline":["\\ud800x","\\udcff\\u202e"]}}\n')
def test_diff_of_a_mutated_recording_gives_a_report_or_one_error_line(tmp_path, capsysbinary, data):
    """As for every subcommand (test_hostile_input): exit 0, or exit 1 with one error line."""
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(data)
    for args in ([str(BASE), str(path)], [str(path), str(BASE), "--json"], [str(path), str(path), "--key", "argv"]):
        capsysbinary.readouterr()
        status = main(["diff", *args, "-o", str(tmp_path / "out")])
        _check_outcome(status, capsysbinary.readouterr().err, ["diff"] + args)
        if status == 0:
            text = (tmp_path / "out").read_bytes().decode("utf-8")
            if "--json" in args:
                json.loads(text)
            else:
                assert all(line.isprintable() for line in text.split("\n"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab \\'\x1b\u202e\udcff", max_size=30), min_size=1, max_size=6),
       st.integers(8, 60))
def test_shortening_never_cuts_an_escape_in_two(argv, limit):
    full = command_text(tuple(argv))
    short = command_text(tuple(argv), limit)
    if short == full:
        return
    head, tail = short.split("…")
    units = UNIT.findall(full)
    # both ends are whole pieces of the full text: each escape in them reads as it did there
    assert UNIT.findall(head) == units[:len(UNIT.findall(head))]
    assert not tail or UNIT.findall(tail) == units[-len(UNIT.findall(tail)):]
    assert len(short) <= limit
