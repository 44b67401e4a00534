"""The bulk readers the timeline views share: they must agree with decoding each field one by one."""

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork
from proctrace.model import fold, raw_fields
from proctrace.pipeline import items_of_events
from proctrace.render.timeline import cmdline_texts, command_label, exec_columns, json_str, labels, safe_json, tree_order
from strategies import argvs, cmdlines


def _steps(argv_list):
    events = [Fork(0, 1, 2, 1)] + [Exec(1 + i, 2, 1, 2, argv, "/bin/x" if i % 2 else None, 7 if i % 3 else None)
                                   for i, argv in enumerate(argv_list)]
    return fold([items_of_events(events)]).processes[0].execs


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(argvs, cmdlines), min_size=1, max_size=6))
@example([("],",), ('a\\"],', "b"), ()])
@example([(",",), (",",), ("cc",)])  # an argument that is a comma, in the bulk path
def test_bulk_fields_and_labels_match_one_by_one_decoding(argv_list):
    steps = _steps(argv_list)
    texts = cmdline_texts(list(map(raw_fields, steps)))
    assert [tuple(json.loads(text)) for text in texts] == [step.cmdline for step in steps]
    columns = exec_columns(steps)
    assert [json.loads(filename) if filename else None for _, _, filename, _, _ in columns] == \
        [step.filename for step in steps]
    expected = [json_str(command_label(step.cmdline)) for step in steps]
    assert labels(texts) == expected
    assert [labels([text])[0] for text in texts] == expected  # alone or together
    for label in expected:
        json.loads(label.decode("utf-8"))  # valid JSON in valid UTF-8


def test_raw_fields_are_the_same_before_and_after_decoding():
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("a\udce9", 'b"'), "/x", 3, True), Exit(5, 2, 1, 2, 3, 0, None)]
    proc = fold([items_of_events(events)]).processes[0]
    before = raw_fields(proc.execs[0]), raw_fields(proc)
    proc.execs[0].cmdline, proc.exit_code  # decodes them
    assert (raw_fields(proc.execs[0]), raw_fields(proc)) == before
    assert before[0] == b'"pgid":2,"cmdline":["a\\udce9","b\\""],"filename":"/x","sid":3,"cmdline_truncated":true'


def test_surrogates_become_visible_text():
    assert json_str("caf\udce9 \ud800") == b'"caf\\\\xe9 \\\\ud800"'
    assert safe_json('{"a":["x\\udcff","\\u00e9\\n"]}') == '{"a":["x\\\\xff","é\\n"]}'.encode()


def test_tree_order_is_depth_first_by_start():
    events = [Fork(0, 1, 2, 1), Fork(1, 2, 3, 2), Fork(2, 1, 4, 1), Fork(3, 3, 5, 3), Fork(4, 2, 6, 2)]
    recording = fold([items_of_events(events)])
    order, parents = tree_order(recording)
    assert [proc.pid for proc in order] == [2, 3, 5, 6, 4]
    assert list(parents) == [-1, 0, 1, 0, -1]


def test_labels_quote_escape_and_shorten():
    assert command_label(["sh", "-c", "echo 'hi'", ""]) == r"""sh -c 'echo '\''hi'\''' ''"""
    assert command_label(["a\nb", "caf\udce9", "x\u2028y", "\x7f"]) == r"""'a\nb' caf\xe9 'x\u2028y' \x7f"""
    assert command_label(["/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname", "x"]) == \
        "<store>/dirname x"
    long = command_label(["x" * 300], limit=100)
    assert len(long) == 100 and "\u2026" in long
    assert command_label([]) == "(empty argv)"
