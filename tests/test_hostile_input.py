"""Mutated real recordings through every subcommand: events out, or one error line, never a traceback.

Issue 10, point 2: deep nesting, huge numbers, lone surrogates and closed
standard streams each gave a Python traceback.  The property runs every
subcommand in process (through cli.main) on real recordings with bytes
flipped, deleted and inserted, lines moved, values replaced by values of
other types, and those cases pinned; the only outcomes allowed are exit 0,
or exit 1 with exactly one `proctrace: error:` line.
"""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from proctrace.cli import main
from proctrace.render import FORMATS

HERE = Path(__file__).parent
RECORDINGS = [path.read_bytes() for path in sorted((HERE / "data" / "recordings").glob("*.jsonl"))
              if path.stat().st_size < 20_000] + [(HERE / "data" / "original" / "demo_script_ingested.log").read_bytes()]
COMMANDS = [["sort"]] + [["render", "-f", name] for name in sorted(FORMATS)]

# what a field's value may be replaced by: other types, and the values that broke readers
_VALUES = [b'"x"', b"[1]", b"{}", b"null", b"true", b"1.5", b"-1", b"1e3", b"9" * 25, b"9" * 4301,
           b'"\\ud800"', b'["\\ud800"]', b'["\\udfff","\\udc80"]', b"[" * 5000 + b"]" * 5000,
           b'{"a":' * 3000 + b"1" + b"}" * 3000, b'"' + b"\\u0000" * 3 + b'"', b'"\xff"', b"1" + b"0" * 20]
_FIELD_VALUE = re.compile(rb'("[a-z_]+":)(-?[0-9]+|"[^"]*"|\[[^\]]*\]|null|true|false)')


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(RECORDINGS)))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "delete", "insert", "move", "value", "nest", "bom", "cut"]))
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        if how == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif how == "delete":
            del data[where:where + draw(st.integers(1, 40))]
        elif how == "insert":
            data[where:where] = draw(st.sampled_from([b"\n", b"{", b"}", b'"', b"\\", b"\x00", b"\xff", b",",
                                                       b'"x":1,', b"\xef\xbb\xbf"]))
        elif how == "move":
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines.pop(i))
            data = bytearray(b"\n".join(lines))
        elif how == "value":
            matches = list(_FIELD_VALUE.finditer(data))
            if matches:
                match = draw(st.sampled_from(matches))
                data[match.start(2):match.end(2)] = draw(st.sampled_from(_VALUES))
        elif how == "nest":
            cut = data.find(b":{", where)
            if cut >= 0:
                data[cut + 2:cut + 2] = b'"x":' + draw(st.sampled_from(_VALUES)) + b","
        elif how == "bom":
            data[0:0] = b"\xef\xbb\xbf"
        else:
            del data[where:]
    return bytes(data)


def _check_outcome(status, err: bytes, command):
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text, (command, text)
    errors = [line for line in text.splitlines() if line.startswith("proctrace: error:")]
    if status == 0:
        assert not errors, (command, text)
    else:
        assert status == 1 and len(errors) == 1, (command, status, text)
        assert all(line.startswith("proctrace: ") for line in text.splitlines()), (command, text)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutated())
@example(RECORDINGS[0].replace(b'"pid":', b'"x":' + b"[" * 5000 + b"]" * 5000 + b',"pid":', 1))
@example(RECORDINGS[0].replace(b'"timestamp":0', b'"timestamp":' + b"9" * 4301, 1))
@example(RECORDINGS[0].replace(b'"cmdline":["', b'"cmdline":["\\ud800', 1))
@example(RECORDINGS[0].replace(b'"filename":"', b'"filename":"\\udfff', 1))
@example(b"\xef\xbb\xbf" + RECORDINGS[0])
@example(re.sub(rb'("Exit":{[^}]*"pgid":)[0-9]+', rb"\g<1>" + b"9" * 25, RECORDINGS[0], count=1))  # html's ids
def test_every_subcommand_gives_output_or_one_error_line(tmp_path, capsysbinary, data):
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(data)
    for command in COMMANDS:
        capsysbinary.readouterr()
        status = main(command + ["-i", str(path), "-o", str(tmp_path / "out")])
        _check_outcome(status, capsysbinary.readouterr().err, command)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_lone_surrogates_are_written_back_as_escapes(command, tmp_path, capsysbinary):
    line = (b'{"Exec":{"timestamp":1,"pid":2,"ppid":1,"pgid":2,"cmdline":["\\ud800x","\\udcff"],'
            b'"filename":"\\udfff"}}\n{"Exit":{"timestamp":2,"pid":2,"ppid":1,"pgid":2}}\n')
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"Fork":{"timestamp":0,"parent_pid":1,"child_pid":2,"parent_pgid":1}}\n' + line)
    assert main(command + ["-i", str(path)]) == 0
    out = capsysbinary.readouterr().out
    out.decode("utf-8")  # always UTF-8
    if command[-1] in ("multiplexed", "by-process") or command == ["sort"]:
        assert b'"\\ud800x","\\udcff"' in out and b'"\\udfff"' in out


def test_a_bom_is_dropped_by_every_stage(tmp_path, capsysbinary):
    # issue 10, point 7: sort passed a BOM that render then rejected
    body = RECORDINGS[0]
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    assert main(["sort", "-i", str(path), "-o", str(tmp_path / "sorted")]) == 0
    assert not (tmp_path / "sorted").read_bytes().startswith(b"\xef")
    for name in sorted(FORMATS):
        assert main(["render", "-f", name, "-i", str(path), "-o", str(tmp_path / name)]) == 0
        plain = tmp_path / "plain.jsonl"
        plain.write_bytes(body)
        main(["render", "-f", name, "-i", str(plain), "-o", str(tmp_path / "expected")])
        assert (tmp_path / name).read_bytes() == (tmp_path / "expected").read_bytes(), name


@pytest.mark.parametrize("command", [["sort"], ["render", "-f", "mermaid"]])
def test_the_input_file_is_never_the_output(command, tmp_path, capsysbinary):
    # issue 10, point 3: -i F -o F emptied F
    path = tmp_path / "rec.jsonl"
    path.write_bytes(RECORDINGS[0])
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    for output in (path, link):
        assert main(command + ["-i", str(path), "-o", str(output)]) == 1
        err = capsysbinary.readouterr().err.decode()
        assert err.count("\n") == 1 and "is also the input" in err
        assert path.read_bytes() == RECORDINGS[0]


def test_huge_numbers_are_an_error_and_64_bit_ones_are_kept(tmp_path, capsysbinary):
    big = b'{"Lost":{"timestamp":1,"count":%s}}\n'
    path = tmp_path / "n.jsonl"
    path.write_bytes(big % (b"9" * 30))
    assert main(["sort", "-i", str(path)]) == 0
    assert capsysbinary.readouterr().out == big % (b"9" * 30)
    path.write_bytes(big % (b"9" * 4301))
    assert main(["render", "-i", str(path)]) == 1
    assert capsysbinary.readouterr().err.decode().startswith(f"proctrace: error: {path}:1: ")


def test_json_nested_too_deeply_is_one_error_line(tmp_path, capsysbinary):
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b'{"Lost":{"timestamp":1,"count":1,"x":' + b"[" * 5000 + b"]" * 5000 + b"}}\n")
    assert main(["sort", "-i", str(path)]) == 0  # sort reads the timestamp only, and passes the line on
    assert capsysbinary.readouterr().out == path.read_bytes()
    for command in COMMANDS[1:]:
        status = main(command + ["-i", str(path)])
        err = capsysbinary.readouterr().err.decode()
        assert status == 1 and err == f"proctrace: error: {path}:1: not a JSON event (nested too deeply)\n"
