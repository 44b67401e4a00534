"""The JSON-lines codec: round trips, the original's formats, and bad lines."""

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.canonical import fold_columns, fold_items, rest_fields, sorted_chunk
from proctrace.events import Exec, Exit, Fork, Lost, SetSID, UnknownKind, from_json, to_json
from proctrace.pipeline import _merged as merge_legacy
from strategies import events


@given(events)
@example(Exec(1, 2, 3, 4, ("a\udcff", "", "x:y#z;", "é\n"), None, None, False))
def test_round_trip(event):
    line = to_json(event)
    assert "\n" not in line
    line.encode("utf-8")  # always writable as UTF-8
    assert from_json(line) == event
    assert from_json(line.encode("utf-8")) == event


def _written_by_json(event) -> str:
    """The canonical line as the json module writes it: the fields in order, unknown ones left out,
    the exit code and signal both or neither, lone surrogates as \\u escapes."""
    fields = {}
    for name in type(event).FIELDS:
        value = getattr(event, name)
        if name == "cmdline":
            value = list(value)
        if name == "cmdline_truncated" and not value:
            continue
        if value is None and (name not in ("exit_code", "signal")
                              or (event.exit_code is None and event.signal is None)):
            continue
        fields[name] = value
    text = json.dumps({type(event).__name__: fields}, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[\ud800-\udfff]", lambda match: "\\u%04x" % ord(match.group()), text)


@given(events)
@example(Exec(1, 2, 3, 4, ('a"b', "c\\", "\x1f\x7f\u2028", "\udcff"), 'f"\n', 5, True))
@example(Exec(1, 2, 3, 4, (), None, None, False))
@example(Exit(6, 2, 1, 2, None, 0, 9))
def test_lines_are_written_exactly_as_json_would_write_them(event):
    assert to_json(event) == _written_by_json(event)


def test_non_utf8_argv_is_written_as_surrogate_escapes():
    arg = b"caf\xe9".decode("utf-8", "surrogateescape")
    line = to_json(Exec(1, 2, 3, 4, (arg,)))
    assert '"caf\\udce9"' in line
    assert from_json(line).cmdline[0].encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_field_order_and_names_match_the_original():
    assert to_json(Fork(5, 1, 2, 1)) == '{"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,"parent_pgid":1}}'
    assert to_json(Exec(5, 2, 1, 2, ("ls", "-l"))) == \
        '{"Exec":{"timestamp":5,"pid":2,"ppid":1,"pgid":2,"cmdline":["ls","-l"]}}'
    assert to_json(Exit(6, 2, 1, 2)) == '{"Exit":{"timestamp":6,"pid":2,"ppid":1,"pgid":2}}'


def test_exit_status_fields():
    assert to_json(Exit(6, 2, 1, 2, 7, 0, None)).endswith('"sid":7,"exit_code":0,"signal":null}}')
    assert to_json(Exit(6, 2, 1, 2, 7, None, 9)).endswith('"sid":7,"exit_code":null,"signal":9}}')


def test_original_later_format_is_read():
    full = from_json('{"ExecFull":{"seq":4,"timestamp":9,"pid":2,"ppid":1,"pgid":2,'
                     '"filename":"/bin/sleep","args":"sleep 0.25"}}')
    assert full == Exec(9, 2, 1, 2, ("sleep", "0.25"), "/bin/sleep")
    assert from_json('{"BadExec":{"timestamp":1}}') is None
    assert from_json('{"Fork":{"seq":3,"timestamp":1,"parent_pid":1,"child_pid":2,"parent_pgid":1}}') == Fork(1, 1, 2, 1)


def test_exec_args_fill_an_empty_cmdline():
    records = [from_json('{"Exec":{"timestamp":5,"pid":2,"ppid":1,"pgid":2,"cmdline":[]}}'),
               from_json('{"ExecArgs":{"timestamp":5,"pid":2,"args":"/bin/bash -c true"}}'),
               from_json('{"Exec":{"timestamp":6,"pid":2,"ppid":1,"pgid":2,"cmdline":["true"]}}'),
               from_json('{"ExecArgs":{"timestamp":6,"pid":2,"args":"ignored since cmdline is there"}}'),
               Lost(7, 3)]
    expected = [Exec(5, 2, 1, 2, ("/bin/bash", "-c", "true")), Exec(6, 2, 1, 2, ("true",)), Lost(7, 3)]
    assert [r for batch in merge_legacy([records]) for r in batch] == expected
    # an Exec at the end of one batch still gets the ExecArgs that starts the next
    split = [records[:1], records[1:3], records[3:]]
    assert [r for batch in merge_legacy(split) for r in batch] == expected


def test_unknown_kind_is_reported_as_such():
    with pytest.raises(UnknownKind) as info:
        from_json('{"Mmap":{"timestamp":1}}')
    assert info.value.kind == "Mmap"


@pytest.mark.parametrize("line, reason", [
    ('{"Fork":{"timestamp":1,"parent_pid":1,"child_pid":2}}', "no 'parent_pgid' field"),
    ('{"Fork":{"timestamp":"1","parent_pid":1,"child_pid":2,"parent_pgid":1}}', "'timestamp' must be a non-negative integer"),
    ('{"Fork":{"timestamp":-1,"parent_pid":1,"child_pid":2,"parent_pgid":1}}', "non-negative"),
    ('{"Exec":{"timestamp":1,"pid":2,"ppid":1,"pgid":2,"cmdline":"ls"}}', "'cmdline' must be a list of strings"),
    ('{"Exec":{"timestamp":1,"pid":2,"ppid":1,"pgid":2,"cmdline":[1]}}', "'cmdline' must be a list of strings"),
    ('{"Fork":{"timestamp":1,"parent_pid":1', "truncated"),
    ('{"Fork":1}', "must map to an object"),
    ('{"Fork":{},"Exit":{}}', "exactly one key"),
    ('[1,2]', "exactly one key"),
    ('', "empty line"),
    ('\x00\x01garbage', "not a JSON event"),
    ('{"Lost":{"timestamp":true,"count":1}}', "must be a non-negative integer"),
])
def test_bad_lines_say_why(line, reason):
    with pytest.raises(ValueError) as info:
        from_json(line)
    assert reason in str(info.value)


def test_lost_is_written_with_its_count():
    assert json.loads(to_json(Lost(1, 2))) == {"Lost": {"timestamp": 1, "count": 2}}


# Lines near canonical form: every event, and each with one field name, kind or value spoiled.
_SPOILERS = [(b'"pid"', b'"ppid"'), (b'"child_pid"', b'"pid"'), (b'"Fork"', b'"Exec"'), (b'"Exec"', b'"Exit"'),
             (b'"Exit"', b'"SetSID"'), (b'"SetSID"', b'"SetPGID"'), (b'"SetPGID"', b'"SetSID"'),
             (b'"Lost"', b'"Fork"'), (b':null', b':0'), (b'"signal":', b'"signal":null,"x":'),
             (b',"sid":', b',"sid":0,"sid":'), (b'"cmdline":[', b'"cmdline":["",'), (b':1', b':01'),
             (b'true', b'false'), (b'"filename"', b'"cmdline_truncated"'), (b'}}', b'}'), (b'"]', b'\\"]'),
             (b'"pid":', b'"parent_pid":1,"child_pid":'), (b'"Exit":{', b'"SetPGID":{'), (b',"pgid"', b',"x":1,"pgid"')]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(events, st.integers(-1, len(_SPOILERS) - 1)), min_size=1, max_size=6))
@example([(Exit(1, 2, 3, 4, 5, None, 9), -1), (SetSID(1, 2, 3, 4, 5), 0), (Lost(1, 2), -1)])
def test_fold_columns_check_lines_as_the_line_pattern_does(pairs):
    lines = []
    for event, spoiler in pairs:
        line = to_json(event).encode("utf-8")
        if spoiler >= 0:
            line = line.replace(*_SPOILERS[spoiler])
        lines.append(line)
    body = b"\n".join(lines) + b"\n"
    scanned = fold_columns(body)
    ordered = sorted_chunk(body)
    assert (scanned is None) == (ordered is None)
    if scanned is None:
        return
    assert ordered[2] == any(line.startswith(b'{"Lost"') for line in lines)  # whether it holds a Lost
    keys, columns = scanned
    decoded = sorted((from_json(line) for line in lines), key=lambda event: event.timestamp)
    for (code, ts, pid, parent, rest), event in zip(fold_items(keys.tolist(), columns), decoded):
        kind = type(event).__name__
        assert code == {"Fork": "F", "Exec": "E", "Exit": "X", "SetSID": "S", "SetPGID": "P", "Lost": "L"}[kind]
        assert ts == event.timestamp
        if isinstance(event, Lost):
            assert pid == event.count
            continue
        assert pid == (event.child_pid if isinstance(event, Fork) else event.pid)
        assert parent == (event.parent_pid if isinstance(event, Fork) else event.ppid)
        fields = rest_fields(rest)
        for name, value in fields.items():
            expected = getattr(event, name)
            assert (tuple(value) if name == "cmdline" else value) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet='ab ",]\\[{}:\n\u00e9\udcff', max_size=6), max_size=5))
@example(["a", "]"])
@example(["a", "],", "x"])
def test_cmdline_of_reads_the_cmdline_as_json_does(cmdline):
    from proctrace.canonical import cmdline_of
    line = to_json(Exec(1, 2, 1, 2, tuple(cmdline), "/bin/x]", 3)).encode()
    rest = line[line.index(b'"pgid"'):-2]
    assert cmdline_of(rest) == tuple(cmdline) == tuple(rest_fields(rest)["cmdline"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet='ab ",]\\[{}:\n\u00e9', max_size=6), max_size=5),
       st.one_of(st.none(), st.text(alphabet='a]",[\\:', max_size=6)), st.one_of(st.none(), st.integers(0, 9)),
       st.booleans())
@example([], "]", None, False)
@example(["]", ","], '],"filename":"', 1, True)
def test_cmdline_of_finds_the_cmdline_with_or_without_the_fields_after_it(cmdline, filename, sid, truncated):
    from proctrace.canonical import cmdline_of
    line = to_json(Exec(1, 2, 1, 2, tuple(cmdline), filename, sid, truncated)).encode()
    rest = line[line.index(b'"pgid"'):-2]
    assert cmdline_of(rest) == tuple(cmdline)
