"""render -f perfetto: Chrome trace-event JSON that keeps Perfetto's rules, on real recordings and made-up ones."""

import gzip
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from proctrace.analysis import critical_path
from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, SetPGID, SetSID
from proctrace.model import fold, raw_fields
from proctrace.pipeline import items_of_events
from proctrace.pipeline import read_model
from proctrace.render.perfetto import render
from proctrace.render.summary import segment_command
from proctrace.sort import SortStats
from strategies import histories
from trace_rules import check_trace, critical_path_slices

RECORDINGS = sorted((Path(__file__).parent / "data" / "recordings").glob("*.jsonl"))


def _model(path):
    with open(path, "rb") as stream:
        return read_model(stream, source=str(path), window_ns=None, stats=SortStats(), warn=lambda m: None)


def _trace(recording):
    return check_trace(b"".join(render(recording, warn=pytest.fail)))


def _events(checked, **match):
    return [event for event in checked["trace"]["traceEvents"]
            if all(event.get(key) == value for key, value in match.items())]


@pytest.mark.parametrize("path", RECORDINGS, ids=[path.stem for path in RECORDINGS])
def test_real_recordings_keep_the_trace_event_rules(path):
    recording = _model(path)
    checked = _trace(recording)
    real = [pid for pid, name in checked["names"].items() if name != "critical path"]
    assert len(real) == len(recording.processes)  # one Perfetto process each, every one named
    # ordered depth first, below the critical path
    assert sorted(checked["sort_index"][pid] for pid in real) == list(range(1, len(real) + 1))
    # an arrow into every process whose parent is in the recording (and started before it)
    assert len(checked["flows"]) == sum(proc.parent is not None and proc.parent.start_ns < proc.start_ns
                                        for proc in recording.processes)
    root = recording.roots[0]
    slices = critical_path_slices(checked)
    end = root.end_ns if root.end_ns is not None else recording.last_ns
    assert (slices[0][0], slices[-1][1]) == (root.start_ns - recording.first_ns, end - recording.first_ns)
    assert [s[3]["args"]["pid"] for s in slices] == [segment.pid for segment in critical_path(recording, root)]


def test_the_parallel_build_has_a_slice_per_exec_with_its_argv():
    recording = _model(Path(__file__).parent / "data" / "recordings" / "timeline_make_j.jsonl")
    checked = _trace(recording)
    execs = _events(checked, cat="exec")
    assert len(execs) == sum(len(proc.execs) for proc in recording.processes)
    cc = [event for event in execs if event["args"]["cmdline"][:3] == ["cc", "-O2", "-Wall"]]
    assert len(cc) == 41  # 40 files and main.c
    one = cc[0]["args"]
    assert set(one) == {"pgid", "cmdline", "filename", "sid"}
    assert one["filename"] == "/usr/bin/cc" and cc[0]["name"] == " ".join(one["cmdline"])
    # nested in its process's life slice, on its process's track
    life, = [event for event in _events(checked, cat="process") if event["pid"] == cc[0]["pid"]]
    assert life["pid"] == cc[0]["pid"] and life["ts"] <= cc[0]["ts"]
    assert cc[0]["ts"] + cc[0]["dur"] == life["ts"] + life["dur"]  # the last exec runs to the exit, exactly
    assert life["args"]["exit_code"] == 0 and life["args"]["signal"] is None


def test_hostile_argv_stays_exact_text_and_valid_utf8():
    checked = _trace(_model(Path(__file__).parent / "data" / "recordings" / "timeline_hostile_argv.jsonl"))
    argvs = [event["args"]["cmdline"] for event in _events(checked, cat="exec")]
    assert ["/bin/echo", "<img src=x onerror=alert(1)>"] in argvs
    assert ["/bin/echo", "line\u2028sep\u2029para"] in argvs
    # bytes that are not UTF-8 are shown as \xNN, in the name and in the args
    assert ["/bin/echo", "caf\\xe9 \\xff", "\\u2028 ${x} `y`"] in argvs
    assert "/bin/echo 'caf\\xe9 \\xff' '\\u2028 ${x} `y`'" in checked["names"].values()
    failed = {event["name"]: event["args"] for event in _events(checked, cat="process")
              if event["args"].get("exit_code") or event["args"].get("signal")}
    assert {"exit_code": 3, "signal": None}.items() <= failed["sh -c 'exit 3'"].items()
    assert failed["sh -c 'kill -TERM $$'"]["signal"] == 15
    changes = {event["name"]: event["args"] for event in _events(checked, ph="i")}
    assert set(changes) == {"setsid", "setpgid"}
    outliving = [event for event in _events(checked, cat="process") if "outlived_root_by_ns" in event["args"]]
    assert [event["name"] for event in outliving] == ["sleep 0.3"]


@settings(max_examples=200, deadline=None)
@given(histories())
def test_any_history_keeps_the_rules(events):
    if not events:
        return
    recording = fold([items_of_events(events)])
    checked = _trace(recording)
    assert len(checked["names"]) == len(recording.processes) + 1
    if recording.roots:
        critical_path_slices(checked)


def test_a_reused_pid_gets_a_process_of_its_own():
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("a",)), Exit(3, 2, 1, 2, None, 0, None),
              Fork(4, 1, 2, 1), Exec(5, 2, 1, 2, ("b",)), Exit(6, 2, 1, 2, None, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    lives = _events(checked, cat="process")
    assert [event["args"]["pid"] for event in lives] == [2, 2]
    assert len({event["pid"] for event in lives}) == 2


def test_a_process_without_exit_runs_to_the_end_and_says_so():
    events = [Fork(0, 1, 2, 1), Exec(10, 2, 1, 2, ("sleep", "9")), Fork(20, 1, 3, 1), Exit(1000, 3, 1, 1, None, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    life, = [event for event in _events(checked, cat="process") if event["args"]["pid"] == 2]
    assert life["ts"] + life["dur"] == 1.0  # the last event, 1000 ns after the first
    assert "drawn to the end" in life["args"]["exit"]
    step, = _events(checked, cat="exec")
    assert step["ts"] + step["dur"] == 1.0


def test_nanoseconds_survive_as_fractions_of_microseconds():
    events = [Fork(1_000_000_000_000, 1, 2, 1), Exec(1_000_000_000_001, 2, 1, 2, ("x",)),
              Exit(1_000_123_456_789, 2, 1, 2, None, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    life, = _events(checked, cat="process")
    step, = _events(checked, cat="exec")
    assert (life["ts"], round(life["dur"] * 1000)) == (0.0, 123_456_789)
    assert round(step["ts"] * 1000) == 1 and abs(step["ts"] - 0.001) < 1e-4


def test_the_fork_arrow_starts_on_the_parent_just_before_the_child():
    events = [Fork(0, 1, 2, 1), Exec(5, 2, 1, 2, ("make",)), Fork(100, 2, 3, 2), Exec(150, 3, 2, 2, ("cc",)),
              Exit(900, 3, 2, 2, None, 0, None), Exit(1000, 2, 1, 2, None, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    (start, end, marker), = checked["flows"].values()
    assert marker["pid"] == 2 and (start, end) == (99, 100) and marker["name"] == "fork"
    child, = [event for event in _events(checked, cat="process") if event.get("flow_in")]
    assert child["pid"] == 3 and child["bind_id"] == marker["bind_id"]


def test_group_changes_are_instants_on_the_process():
    events = [Fork(0, 1, 2, 1), SetPGID(3, 2, 1, 2), SetSID(4, 2, 1, 2, 2), Exit(9, 2, 1, 2, 2, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    assert [(e["name"], e["args"], e["pid"]) for e in _events(checked, ph="i")] == \
        [("setpgid", {"pgid": 2}, 2), ("setsid", {"pgid": 2, "sid": 2}, 2)]


def test_surrogates_never_reach_perfetto_as_escapes():
    argv = ("caf\udce9", "x\ud800y", "é")
    recording = fold([items_of_events([Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, argv, "/bin/\udcff"),
                                       Exit(2, 2, 1, 2, None, 0, None)])])
    checked = _trace(recording)
    step, = _events(checked, cat="exec")
    assert step["args"]["cmdline"] == ["caf\\xe9", "x\\ud800y", "é"]
    assert step["args"]["filename"] == "/bin/\\xff"
    assert step["name"] == "caf\\xe9 x\\ud800y é"
    assert raw_fields(recording.processes[0].execs[0]).count(b"\\ud") == 3  # the model is untouched


def test_gzip_output_is_reproducible(tmp_path, capsys):
    recording = Path(__file__).parent / "data" / "recordings" / "timeline_make_j.jsonl"
    plain, packed, again = tmp_path / "t.json", tmp_path / "t.json.gz", tmp_path / "u.json.gz"
    for out in (plain, packed, again):
        assert main(["render", "-f", "perfetto", "-i", str(recording), "-o", str(out)]) == 0
    data = packed.read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"  # mtime 0
    assert not data[3] & 0x08  # no file name
    assert data == again.read_bytes()
    assert gzip.decompress(data) == plain.read_bytes()
    check_trace(gzip.decompress(data))


def test_pid_and_min_duration_apply(tmp_path, capsys, selection_recording):
    path = selection_recording
    out = tmp_path / "t.json"
    assert main(["render", "-f", "perfetto", "-i", str(path), "-o", str(out), "--pid", "4"]) == 0
    pids = {event["args"]["pid"] for event in _events(check_trace(out.read_bytes()), cat="process")}
    assert pids == {4, 5}
    assert main(["render", "-f", "perfetto", "-i", str(path), "-o", str(out), "--min-duration", "1ms"]) == 0
    checked = check_trace(out.read_bytes())
    assert {event["args"]["pid"] for event in _events(checked, cat="process")} == {2, 4, 5}
    assert checked["trace"]["otherData"]["hidden_below_min_duration"] == 1


def test_an_empty_argv_and_an_unknown_command_still_have_names():
    events = [Exec(0, 2, 1, 2, ()), Fork(1, 2, 3, 2), Exit(2, 3, 2, 2, None, 0, None), Fork(3, 7, 8, 7),
              Exit(4, 8, 7, 7, None, 0, None)]
    checked = _trace(fold([items_of_events(events)]))
    assert sorted(checked["names"].values()) == ["(empty argv)", "(empty argv) (fork)", "(unknown command) (fork)",
                                                 "critical path"]


def test_a_segment_before_the_first_exec_is_named_as_the_summary_names_it():
    # the recorded command, forked by `record`, runs proctrace's own program until its exec
    events = [Fork(0, 1, 2, 1), Exec(5, 2, 1, 2, ("make",)), Exit(9, 2, 1, 2, None, 0, None)]
    recording = fold([items_of_events(events)])
    slices = critical_path_slices(_trace(recording))
    assert [(s[0], s[1], s[3]["name"]) for s in slices] == [(0, 5, "(before its first exec)"), (5, 9, "make")]
    segments = critical_path(recording, recording.roots[0])
    assert segment_command(segments[0], None) == "(before its first exec)"


def test_output_is_one_json_document(tmp_path):
    recording = fold([items_of_events([Fork(0, 1, 2, 1), Exit(5, 2, 1, 2, None, 0, None)])])
    document = json.load(io.BytesIO(b"".join(render(recording, warn=pytest.fail))))
    assert set(document) == {"otherData", "traceEvents"}
