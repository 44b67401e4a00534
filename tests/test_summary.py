"""render -f summary and -f summary-json: the report's content, its two layouts, and what narrows it."""

import json
from pathlib import Path

import pytest

from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, Lost, to_json
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.render import RenderOptions
from proctrace.render.summary import PATH_LIMIT, render as render_text
from proctrace.render.summary_json import summary_object

HERE = Path(__file__).parent
RECORDINGS = sorted((HERE / "data" / "recordings").glob("*.jsonl"))
MS = 1_000_000

# make -j2: two compiles, a link that fails, and a shell that leaves `sleep 1` running past make
BUILD = [Fork(0, 1, 10, 1), Exec(1 * MS, 10, 1, 10, ("make", "-j2")),
         Fork(2 * MS, 10, 11, 10), Exec(3 * MS, 11, 10, 10, ("/usr/bin/cc", "-c", "a.c")),
         Fork(4 * MS, 10, 12, 10), Exec(5 * MS, 12, 10, 10, ("cc", "-c", "b.c")),
         Exit(40 * MS, 11, 10, 10, None, 0, None),
         Exit(60 * MS, 12, 10, 10, None, 0, None),
         Fork(61 * MS, 10, 13, 10), Exec(62 * MS, 13, 10, 10, ("ld", "-o", "app", "a.o", "b.o")),
         Fork(63 * MS, 10, 14, 10), Exec(64 * MS, 14, 10, 10, ("sh", "-c", "sleep 1 &")),
         Fork(65 * MS, 14, 15, 14), Exec(66 * MS, 15, 14, 14, ("sleep", "1")),
         Exit(67 * MS, 14, 10, 10, None, 0, None),
         Exit(90 * MS, 13, 10, 10, None, 1, None),
         Exit(100 * MS, 10, 1, 10, None, 2, None),
         Exit(1066 * MS, 15, 14, 14, None, 0, None)]


def _recording(events):
    return fold([items_of_events(events)])


def _text(events, **options):
    return b"".join(render_text(_recording(events), warn=pytest.fail, options=RenderOptions(**options))).decode()


def test_the_summary_of_a_small_build():
    assert _text(BUILD) == EXPECTED


def _cli(tmp_path, events, fmt, *args):
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(to_json(event).encode() + b"\n" for event in events))
    return ["render", "-f", fmt, "-i", str(path), *args]


def test_the_json_has_the_same_content(tmp_path, capsys):
    assert main(_cli(tmp_path, BUILD, "summary-json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["root"] == {"pid": 10, "command": ["make", "-j2"], "start_ns": 0, "exit_code": 2,
                              "signal": None, "exit_seen": True}
    assert (report["wall_ns"], report["last_exit_ns"], report["processes"], report["execs"]) == \
        (100 * MS, 1066 * MS, 6, 6)
    assert (report["peak_concurrency"], report["peak_at_ns"]) == (4, 65 * MS)
    assert report["failures"] == [
        {"pid": 10, "command": ["make", "-j2"], "start_ns": 0, "exit_code": 2, "signal": None},
        {"pid": 13, "command": ["ld", "-o", "app", "a.o", "b.o"], "start_ns": 61 * MS, "exit_code": 1,
         "signal": None}]
    assert report["outlived"] == [{"pid": 15, "command": ["sleep", "1"], "after_root_ns": 966 * MS,
                                   "exit_seen": True}]
    assert [(s["pid"], s["start_ns"], s["duration_ns"], s["command"]) for s in report["critical_path"]] == [
        (10, 0, 1 * MS, None), (10, 1 * MS, 3 * MS, ["make", "-j2"]), (12, 4 * MS, 1 * MS, ["make", "-j2"]),
        (12, 5 * MS, 55 * MS, ["cc", "-c", "b.c"]), (10, 60 * MS, 1 * MS, ["make", "-j2"]),
        (13, 61 * MS, 1 * MS, ["make", "-j2"]), (13, 62 * MS, 28 * MS, ["ld", "-o", "app", "a.o", "b.o"]),
        (10, 90 * MS, 10 * MS, ["make", "-j2"])]
    assert report["programs"][0] == {"program": "cc", "execs": 2, "total_ns": 92 * MS}  # /usr/bin/cc and cc
    assert [(p["program"], p["duration_ns"], p["segments"]) for p in report["critical_path_programs"]] == \
        [("cc", 55 * MS, 1), ("ld", 28 * MS, 1), ("make", 16 * MS, 5), ("(before its first exec)", 1 * MS, 1)]
    assert [entry["pid"] for entry in report["slowest_own"]] == [15, 12, 11, 13, 10, 14]
    assert (report["lost"], report["no_exit"], report["unforked"], report["hidden"]) == (0, [], [], 0)


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda path: path.stem)
def test_the_critical_path_of_every_recording_sums_to_the_wall_time(recording, tmp_path, capsys):
    assert main(["render", "-f", "summary-json", "-i", str(recording)]) == 0
    report = json.loads(capsys.readouterr().out)
    path = report["critical_path"]
    assert sum(segment["duration_ns"] for segment in path) == report["wall_ns"]
    assert all(a["start_ns"] + a["duration_ns"] == b["start_ns"] for a, b in zip(path, path[1:]))
    assert sum(segment["share"] for segment in path) == pytest.approx(1, abs=1e-4)


def test_pid_makes_the_report_that_processs(tmp_path, capsys):
    assert main(_cli(tmp_path, BUILD, "summary-json", "--pid", "14")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["root"]["pid"] == 14 and report["wall_ns"] == 4 * MS and report["processes"] == 2
    assert [(s["pid"], s["start_ns"], s["duration_ns"]) for s in report["critical_path"]] == \
        [(14, 0, 1 * MS), (14, 1 * MS, 3 * MS)]
    assert report["outlived"] == [{"pid": 15, "command": ["sleep", "1"], "after_root_ns": 999 * MS,
                                   "exit_seen": True}]


def test_min_duration_is_stated_in_both(tmp_path, capsys):
    assert main(_cli(tmp_path, BUILD, "summary-json", "--min-duration", "30ms")) == 0
    report = json.loads(capsys.readouterr().out)
    # only ld (29 ms) is a short leaf: sh is short, but its child sleep is not
    assert (report["hidden"], report["hidden_below_ns"], report["processes"]) == (1, 30 * MS, 5)
    assert main(_cli(tmp_path, BUILD, "summary", "--min-duration", "30ms")) == 0
    assert "warning: 1 process shorter than 30 ms hidden (--min-duration)\n" in capsys.readouterr().out


def test_what_the_recording_lacks_is_in_the_report():
    events = [Fork(0, 1, 10, 1), Exec(1, 10, 1, 10, ("a",)), Lost(2, 7), Exec(3, 20, 5, 20, ("stray",)),
              Fork(4, 10, 11, 10), Exit(9, 10, 1, 10, None, 0, None)]
    text = _text(events)
    assert "warning: the kernel lost 7 events: the recording is incomplete\n" in text
    assert "warning: 2 processes have no exit in the recording: counted as running until its end\n" in text
    assert "warning: 1 process has events but no fork in the recording: they started before it\n" in text
    report = summary_object(_recording(events))
    assert (report["lost"], report["no_exit"], report["unforked"]) == (7, [20, 11], [20])


def test_with_several_roots_the_first_that_ran_something_is_reported_on():
    events = [Fork(0, 1, 5, 1), Exit(1, 5, 1, 5, None, 0, None),            # a bare fork, nothing run
              Fork(2, 1, 10, 1), Exec(3, 10, 1, 10, ("job",)), Exit(9, 10, 1, 10, None, 0, None),
              Exec(4, 30, 2, 30, ("stray",)), Exit(5, 30, 2, 30, None, 0, None)]
    report = summary_object(_recording(events))
    assert report["root"]["pid"] == 10 and report["wall_ns"] == 7
    assert report["other_roots"] == [{"pid": 5, "command": None}, {"pid": 30, "command": ["stray"]}]
    text = _text(events)
    assert text.startswith("summary of pid 10: job\n  (the recording has 3 roots")
    assert "  other root: pid 30: stray\n" in text


def _path_rows(text):
    """The rows of the critical path's table, but its near siblings."""
    table = text[text.index("\ncritical path: "):text.index("\n  (near: ")].splitlines()[3:]
    return [line for line in table if "near: " not in line]


def test_a_long_critical_path_is_cut_to_its_longest_segments_unless_all():
    events, at = [Fork(0, 1, 10, 1), Exec(0, 10, 1, 10, ("make",))], 0
    for i in range(40):  # 40 jobs one after another, every fifth one long
        took = 9 * MS if i % 5 == 0 else 1 * MS
        events += [Fork(at + 100_000, 10, 100 + i, 10), Exec(at + 110_000, 100 + i, 10, 10, ("cc", str(i))),
                   Exit(at + 110_000 + took, 100 + i, 10, 10, None, 0, None)]
        at += 110_000 + took
    events.append(Exit(at + 100_000, 10, 1, 10, None, 0, None))
    rows, full = _path_rows(_text(events)), _path_rows(_text(events, everything=True))
    assert len(full) == len(summary_object(_recording(events))["critical_path"]) > PATH_LIMIT
    kept = "\n".join(line for line in rows if "shorter segment" not in line)
    assert kept.count("\n") + 1 == PATH_LIMIT
    # the 8 long jobs, then the first 12 short ones
    assert all(f"  cc {i}\n" in kept + "\n" for i in range(0, 40, 5)) and "  cc 14\n" in kept
    assert "  cc 16\n" not in kept + "\n" and "  make\n" not in kept + "\n"
    assert any(line.endswith("shorter segments") for line in rows)


def test_on_a_terminal_each_line_fits():
    events = [Fork(0, 1, 10, 1), Exec(1, 10, 1, 10, ("cc",) + ("-Dflag",) * 40), Exit(9, 10, 1, 10, None, 3, None)]
    assert all(len(line) <= 60 for line in _text(events, width=60).splitlines())
    assert any(len(line) > 60 for line in _text(events, width=60, wide=True).splitlines())


def test_a_recording_without_processes_says_so(tmp_path, capsys):
    assert main(_cli(tmp_path, [Lost(1, 3)], "summary")) == 0
    assert capsys.readouterr().out == ("no processes in the recording\n"
                                       "warning: the kernel lost 3 events: the recording is incomplete\n")
    assert main(_cli(tmp_path, [Lost(1, 3)], "summary-json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["root"] is None and report["critical_path"] == [] and report["lost"] == 3


EXPECTED = """\
summary of pid 10: make -j2

wall time     100 ms
last exit     1.07 s after the root's start (966 ms after its exit)
processes     6, 6 execs, at most 4 running at once (at 65 ms)
failures      2
outlived      1 (still running when pid 10 exited)

failures (a non-zero exit or a signal): 2
    START      PID  HOW                COMMAND
  0.00 ms       10  exit 2             make -j2
    61 ms       13  exit 1             ld -o app a.o b.o

outlived the root: 1
     PAST ROOT      PID  COMMAND
        966 ms       15  sleep 1

critical path: 8 segments tiling the wall time (joins are assumed at each child's exit)
    START     TIME   SHARE      PID  COMMAND
  0.00 ms  1.00 ms    1.0%       10  (before its first exec)
  1.00 ms  3.00 ms    3.0%       10  make -j2
  4.00 ms  1.00 ms    1.0%       12  make -j2 (fork)
  5.00 ms    55 ms   55.0%       12  cc -c b.c
    60 ms  1.00 ms    1.0%       10  make -j2
    61 ms  1.00 ms    1.0%       13  make -j2 (fork)
    62 ms    28 ms   28.0%       13  ld -o app a.o b.o
    90 ms    10 ms   10.0%       10  make -j2
  (near: a sibling that exited at most 5.00 ms before the child the path went into)

critical path by program (what each segment ran)
     TIME   SHARE  SEGMENTS  PROGRAM
    55 ms   55.0%         1  cc
    28 ms   28.0%         1  ld
    16 ms   16.0%         5  make
  1.00 ms    1.0%         1  (before its first exec)

slowest by own time (time in which none of its children was alive)
      OWN     TIME      PID  COMMAND
   1.00 s   1.00 s       15  sleep 1
    56 ms    56 ms       12  cc -c b.c
    38 ms    38 ms       11  /usr/bin/cc -c a.c
    29 ms    29 ms       13  ld -o app a.o b.o
    13 ms   100 ms       10  make -j2
  2.00 ms  4.00 ms       14  sh -c 'sleep 1 &'

slowest by weighted time (each moment divided among the processes running then)
  WEIGHTED     TIME      PID  COMMAND
    979 ms   1.00 s       15  sleep 1
     41 ms   100 ms       10  make -j2
     22 ms    56 ms       12  cc -c b.c
     13 ms    38 ms       11  /usr/bin/cc -c a.c
   9.83 ms    29 ms       13  ld -o app a.o b.o
   1.17 ms  4.00 ms       14  sh -c 'sleep 1 &'

most frequent programs (execs, and the time from each exec to the next or the exit)
    EXECS    TOTAL  PROGRAM
        2    92 ms  cc
        1   1.00 s  sleep
        1    99 ms  make
        1    28 ms  ld
        1  3.00 ms  sh
"""
