"""proctrace diff: matching by normalised command, the report, the command line, real pairs of builds.

    proctrace diff tests/data/diff/base.jsonl tests/data/diff/slowed.jsonl
"""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proctrace.cli import main
from proctrace.diff import compare, normalise_command
from proctrace.diff_report import command_text, escape_text, format_ns, json_report, text_report
from proctrace.events import Exec, Exit, Fork
from proctrace.model import fold
from proctrace.pipeline import items_of_events

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "diff"
GOLDEN = ROOT / "tests" / "golden" / "diff"
MS = 1_000_000


def recording(*procs, outside=1):
    """(pid, ppid, start_ms, end_ms, argv or None for a fork only) in start order -> a Recording."""
    events = []
    for order, (pid, ppid, start, end, argv) in enumerate(procs):
        start, end = int(start * MS), int(end * MS)
        events.append(((start, 0, order), Fork(start, ppid, pid, ppid)))
        if argv is not None:
            events.append(((start, 1, order), Exec(start, pid, ppid, pid, tuple(argv))))
        events.append(((end, 2, -order), Exit(end, pid, ppid, pid, exit_code=0)))
    return fold([items_of_events(event for _, event in sorted(events, key=lambda pair: pair[0]))])


def build_a():
    return recording((10, 1, 0, 300, ["/usr/bin/make", "-j2"]),
                     (11, 10, 1, 101, ["cc", "-c", "a.c"]),
                     (12, 10, 2, 202, ["cc", "-c", "b.c"]),
                     (13, 10, 203, 213, ["sh", "gen.sh"]),
                     (14, 10, 214, 299, ["cc", "-o", "app", "a.o", "b.o"]))


def build_b():
    """build_a with other pids, b.c five times slower, a.c a little, and gen.sh skipped."""
    return recording((20, 1, 0, 600, ["make", "-j2"]),
                     (21, 20, 1, 101.5, ["cc", "-c", "a.c"]),
                     (22, 20, 2, 502, ["cc", "-c", "b.c"]),
                     (24, 20, 503, 590, ["cc", "-o", "app", "a.o", "b.o"]))


@pytest.mark.parametrize("argv, pids, normalised", [
    (["/usr/bin/cc", "-c", "foo.c"], (), ["cc", "-c", "foo.c"]),
    (["/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-bash-5.2/bin/bash"], (), ["bash"]),
    (["ld", "/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-glibc/lib/crt1.o"], (), ["ld", "/nix/store/<hash>-glibc/lib/crt1.o"]),
    (["cc1", "-o", "/tmp/ccAb12Cd.s"], (), ["cc1", "-o", "/tmp/<tmp>.s"]),
    (["as", "-o", "x.o", "/var/tmp/ccqwerty.s"], (), ["as", "-o", "x.o", "/var/tmp/<tmp>.s"]),
    (["collect2", "-fresolution=/build/cc3kQx9z.res"], (), ["collect2", "-fresolution=/build/<tmp>.res"]),
    (["cat", "src/ccompile.c"], (), ["cat", "src/ccompile.c"]),  # a real name: no capital, no digit
    (["rm", "-rf", "/tmp/tmp.Xy12ab34cd"], (), ["rm", "-rf", "/tmp/<tmp>"]),
    (["python3", "/tmp/tmpk3j2_a9z/run.py"], (), ["python3", "/tmp/<tmp>/run.py"]),
    (["cc", "-frandom-seed=5d41402abc4b2a76b9719d911017c592"], (), ["cc", "-frandom-seed=<hex>"]),
    (["git", "checkout", "deadbeef"], (), ["git", "checkout", "deadbeef"]),  # short hex: kept
    (["run", "--id=0f8fa3a4-8c4f-4c1e-9f0b-5d4c2a1b3e6f"], (), ["run", "--id=<uuid>"]),
    (["kill", "4242"], (4242,), ["kill", "<pid>"]),
    (["kill", "4242"], (), ["kill", "4242"]),
    (["cat", "/proc/77/status"], (), ["cat", "/proc/<pid>/status"]),
    (["sort", "-o", "out.4242.txt", "-j4242", "-O4242", "x4242", "04242"], (4242,),
     ["sort", "-o", "out.<pid>.txt", "-j4242", "-O4242", "x4242", "04242"]),
    (["sleep", "1"], (4242,), ["sleep", "1"]),
    ([], (), []),
    ([""], (), [""]),
])
def test_normalise_command(argv, pids, normalised):
    assert normalise_command(tuple(argv), frozenset(pids)) == tuple(normalised)


def test_text_report_of_a_slowed_and_a_skipped_step():
    text = text_report(compare(build_a(), build_b()), ("a.jsonl", "b.jsonl")).decode()
    assert text == """\
A: a.jsonl: make -j2
B: b.jsonl: make -j2

                       A        B   Δ
  wall time       300 ms   600 ms   +300 ms (+100.0%)
  critical path   300 ms   600 ms   +300 ms (+100.0%)
  processes            5        4   -1
  failures             0        0   0

changed, by |Δ| (key: commands from the root down; 1 key hidden: |Δ| < 1 ms and < 5% of A)
  count         A         B                    Δ   key
  1 → 1    200 ms    500 ms    +300 ms (+150.0%)   make -j2; cc -c b.c
  1 → 0   10.0 ms         —   -10.0 ms (-100.0%)   make -j2; sh gen.sh
  1 → 1   4.00 ms   12.0 ms   +8.00 ms (+200.0%)   make -j2
  1 → 1   85.0 ms   87.0 ms     +2.00 ms (+2.4%)   make -j2; cc -o app a.o b.o

only in A (a step missing from B is often a cache hit or a skipped step):
  count      time   key
      1   10.0 ms   make -j2; sh gen.sh

only in B:
  nothing

critical path, aligned by key (0 steps on both paths hidden: |Δ| < 1 ms and < 5% of A)
        A         B               step
  5.00 ms   13.0 ms               make -j2
   200 ms    500 ms               make -j2; cc -c b.c
  10.0 ms         —   only in A   make -j2; sh gen.sh
  85.0 ms   87.0 ms               make -j2; cc -o app a.o b.o
"""


def test_json_report_holds_the_documented_keys():
    document = json.loads(json_report(compare(build_a(), build_b()), ("a.jsonl", "b.jsonl")))
    assert document["inputs"] == ["a.jsonl", "b.jsonl"]
    assert document["wall_ns"] == [300 * MS, 600 * MS]
    assert document["critical_path_ns"] == [300 * MS, 600 * MS]
    assert document["processes"] == [5, 4]
    assert document["failures"] == [0, 0]
    assert document["same_job"] is True and document["roots"] == [["make", "-j2"], ["make", "-j2"]]
    assert document["changes"][:2] == [
        {"key": [["make", "-j2"], ["cc", "-c", "b.c"]], "count": [1, 1], "time_ns": [200 * MS, 500 * MS],
         "delta_ns": 300 * MS},
        {"key": [["make", "-j2"], ["sh", "gen.sh"]], "count": [1, 0], "time_ns": [10 * MS, 0],
         "delta_ns": -10 * MS}]
    deltas = [abs(change["delta_ns"]) for change in document["changes"]]
    assert deltas == sorted(deltas, reverse=True)
    assert document["hidden"] == 1  # cc -c a.c: 0.5 ms, 0.5%
    assert document["only_a"] == [[["make", "-j2"], ["sh", "gen.sh"]]] and document["only_b"] == []
    assert document["critical_path"][1] == {"key": [["make", "-j2"], ["cc", "-c", "b.c"]], "occurrence": [0, 0],
                                            "time_ns": [200 * MS, 500 * MS]}
    assert {"key": [["make", "-j2"], ["sh", "gen.sh"]], "occurrence": [0, 0],
            "time_ns": [10 * MS, None]} in document["critical_path"]


@pytest.mark.parametrize("min_delta_ns, min_percent, hidden", [
    (0, 0, 0),                    # no gate: even 0.5 ms shows
    (MS, 0.4, 0),                 # 0.5% of 100 ms is above 0.4%
    (400_000, 5, 0),              # 0.5 ms is above 0.4 ms
    (MS, 5, 1),                   # the defaults: below both, hidden
    (400 * MS, 200, 4),           # hides every change on both sides; gen.sh (100% of A) stays
])
def test_noise_gate_hides_only_what_is_below_both_thresholds(min_delta_ns, min_percent, hidden):
    found = compare(build_a(), build_b(), min_delta_ns=min_delta_ns, min_percent=min_percent)
    assert found.hidden == hidden
    assert len(found.changes) == 5 - hidden


def test_key_argv_matches_a_command_whatever_wraps_it():
    a = recording((10, 1, 0, 100, ["make"]), (11, 10, 1, 50, ["cc", "-c", "a.c"]),
                  (12, 10, 51, 90, ["cc", "-c", "a.c"]))
    b = recording((20, 1, 0, 100, ["make"]), (21, 20, 1, 60, ["sh", "-c", "cc -c a.c"]),
                  (22, 21, 2, 58, ["cc", "-c", "a.c"]), (23, 20, 61, 99, ["cc", "-c", "a.c"]))
    by_path = compare(a, b)
    assert [change.key for change in by_path.only_b] == [  # by time: cc's 56 ms, then sh's own 4 ms
        (("make",), ("sh", "-c", "cc -c a.c"), ("cc", "-c", "a.c")), (("make",), ("sh", "-c", "cc -c a.c"))]
    by_argv = compare(a, b, key="argv")
    cc = [change for change in by_argv.changes if change.key == (("cc", "-c", "a.c"),)]
    # both of each run, wherever they ran: 49 + 39 ms, then 56 + 38 ms
    assert cc[0].count == (2, 2) and cc[0].time_ns == (88 * MS, 94 * MS)
    assert [change.key for change in by_argv.only_b] == [(("sh", "-c", "cc -c a.c"),)]
    assert by_argv.key_mode == "argv" and json.loads(json_report(by_argv, ("a", "b")))["key"] == "argv"


def test_siblings_with_one_key_are_told_apart_by_their_order():
    a = recording((10, 1, 0, 100, ["make"]), (11, 10, 1, 10, ["true"]), (12, 10, 11, 99, ["true"]))
    b = recording((20, 1, 0, 100, ["make"]), (21, 20, 1, 90, ["true"]), (22, 20, 91, 99, ["true"]))
    found = compare(a, b)
    assert found.changes == []  # two `true`s, 97 ms together, in both runs
    steps = {step.occurrence: step.time_ns for step in found.critical_path}
    assert steps[(0, 1)] == (88 * MS, 8 * MS) and steps[(0, 0)] == (9 * MS, 89 * MS)
    text = text_report(found, ("a", "b")).decode()
    assert "make; true  (#2)" in text


def test_different_root_commands_warn_that_these_look_like_different_jobs():
    warnings = []
    found = compare(recording((1, 0, 0, 10, ["make"])), recording((1, 0, 0, 10, ["ninja", "-C", "out"])),
                    warn=warnings.append)
    assert warnings == ["the recordings look like different jobs: A ran make, B ran ninja -C out"]
    assert found.same_job is False
    assert json.loads(json_report(found, ("a", "b")))["same_job"] is False


@pytest.mark.parametrize("text, shown", [
    ("plain", "plain"),
    ("a\\b", "a\\\\b"),
    ("tab\there\nand\r", "tab\\there\\nand\\r"),
    ("\x1b[31mred\x1b[0m\x7f", "\\x1b[31mred\\x1b[0m\\x7f"),
    ("byte \udcff", "byte \\xff"),            # not UTF-8: the byte
    ("nel \x85 nbsp \xa0", "nel \\u0085 nbsp \\u00a0"),  # characters: their code points
    ("bidi \u202eevil\u2066", "bidi \\u202eevil\\u2066"),
    ("zero\u200bwidth \ufeff", "zero\\u200bwidth \\ufeff"),
    ("lone \ud800", "lone \\ud800"),
    ("tag \U000e0041", "tag \\U000e0041"),
    ("été ✓", "été ✓"),
])
def test_escape_text(text, shown):
    assert escape_text(text) == shown


@pytest.mark.parametrize("argv, shown", [
    (("cc", "-c", "a.c"), "cc -c a.c"),
    (("sh", "-c", "cc a.c; sleep 1"), "sh -c 'cc a.c; sleep 1'"),
    (("echo", "", "it's"), "echo '' 'it'\\''s'"),
    (("printf", "a\nb"), "printf 'a\\nb'"),
    (("cat", "/proc/<pid>/stat"), "cat /proc/<pid>/stat"),
    ((), "(no exec)"),
])
def test_command_text(argv, shown):
    assert command_text(argv) == shown


@pytest.mark.parametrize("ns, shown", [(0, "0 ns"), (999, "999 ns"), (48_100, "48.1 µs"), (812 * MS, "812 ms"),
                                       (1_320 * MS, "1.32 s"), (-12_340_000, "-12.3 ms"), (125_000 * MS, "125 s")])
def test_format_ns(ns, shown):
    assert format_ns(ns) == shown


PAIRS = {"slowed": ("base.jsonl", "slowed.jsonl"), "skipped": ("base.jsonl", "skipped.jsonl")}
GOLDEN_CASES = [(pair, form) for pair in PAIRS for form in ("text", "json")]


@pytest.mark.parametrize("pair, form", GOLDEN_CASES, ids=[f"{pair}--{form}" for pair, form in GOLDEN_CASES])
def test_golden_real_pairs(pair, form, tmp_path, update_golden, monkeypatch, capsys):
    """Real recordings of one make -j2 build (see tests/data/diff/README.md)."""
    monkeypatch.chdir(DATA)  # the report names its inputs as given
    out = tmp_path / "out"
    assert main(["diff", *PAIRS[pair], "-o", str(out)] + (["--json"] if form == "json" else [])) == 0
    assert capsys.readouterr().err == ""
    expected = GOLDEN / f"{pair}.{'expected' if form == 'text' else 'json'}"
    if update_golden:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_bytes(out.read_bytes())
    assert expected.exists(), f"no golden file {expected}: run pytest --update-golden and review it"
    assert out.read_bytes() == expected.read_bytes()


def _diff_json(tmp_path, *args):
    out = tmp_path / "out.json"
    assert main(["diff", "--json", *(str(DATA / name) for name in args), "-o", str(out)]) == 0
    return json.loads(out.read_bytes())


def test_the_slowed_step_comes_first(tmp_path):
    document = _diff_json(tmp_path, "base.jsonl", "slowed.jsonl")
    top = document["changes"][0]
    # the rule that sleeps, and its sleep, only in B: nothing else moved by a second
    assert top["key"][-2][:2] == ["sh", "-c"] and "sleep $SLOW" in top["key"][-2][2]
    assert top["key"][-1] == ["sleep", "1"] and top["count"] == [0, 1] and top["delta_ns"] > 990 * MS
    assert all(abs(change["delta_ns"]) < 500 * MS for change in document["changes"][1:])
    assert document["only_b"] == [top["key"]] and document["only_a"] == []
    assert document["processes"] == [32, 33] and document["same_job"] is True
    # the sleeping rule moved onto the critical path
    on_b = [step["key"] for step in document["critical_path"] if step["time_ns"][0] is None]
    assert top["key"] in on_b


def test_the_skipped_step_is_only_in_a(tmp_path):
    document = _diff_json(tmp_path, "base.jsonl", "skipped.jsonl")
    generator = [["make", "-j2"], ["sh", "-c", "sh gen.sh > gen.h"]]
    assert document["only_a"] == [generator + [["sh", "gen.sh"], ["date", "-u", "+%Y"]],
                                  generator + [["sh", "gen.sh"]], generator]
    assert document["only_b"] == [] and document["processes"] == [32, 29]


def test_pids_and_temporary_names_differ_between_the_runs_but_match(tmp_path):
    # no pid of one run is in the other, and gcc's temporary names differ too
    runs = [(DATA / name).read_text() for name in ("base.jsonl", "slowed.jsonl")]
    pids = [set(re.findall(r'"pid":(\d+)', run)) for run in runs]
    assert not pids[0] & pids[1]
    temporary = [set(re.findall(r"/tmp/cc\w{6}\.s", run)) for run in runs]
    assert temporary[0] and temporary[1] and not temporary[0] & temporary[1]
    document = _diff_json(tmp_path, "base.jsonl", "slowed.jsonl")
    assert len(document["only_a"]) + len(document["only_b"]) == 1


def test_readme_example_is_what_diff_writes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("proctrace diff base.jsonl slowed.jsonl")
    block = re.search(r"```\n(.*?)```", readme[start:], re.S).group(1)
    example = [line for line in block.splitlines() if line != "..."]
    written = (GOLDEN / "slowed.expected").read_text(encoding="utf-8").splitlines()
    assert example and all(line in written for line in example)
    assert example[:4] == written[:4]


GOOD = b'{"Fork":{"timestamp":1,"parent_pid":1,"child_pid":2,"parent_pgid":1}}\n'
BASE = DATA / "base.jsonl"


def test_one_input_may_be_standard_input(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((DATA / "slowed.jsonl").read_bytes())))
    out = tmp_path / "out"
    assert main(["diff", str(BASE), "-", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"A: {BASE}: make -j2\nB: <stdin>: make -j2\n")


def test_both_inputs_on_standard_input_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["diff", "-", "-"])
    assert info.value.code == 2
    assert "only one of A and B can be -" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--min-percent", "lots"], ["--min-percent", "-1"], ["--min-delta", "5"],
                                  ["--key", "pid"], ["--window", "soon"]])
def test_bad_options_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["diff", str(BASE), str(BASE)] + args)
    assert info.value.code == 2


@pytest.mark.parametrize("second", [True, False])
def test_bad_input_is_one_line_naming_the_file_and_line(second, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(GOOD + b'{"Fork":{"timestamp":2,"parent_pid":1')
    inputs = [str(BASE), str(bad)] if second else [str(bad), str(BASE)]
    assert main(["diff", *inputs, "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == f"proctrace: error: {bad}:2: truncated or malformed JSON\n"


def test_missing_input_is_one_line(tmp_path, capsys):
    assert main(["diff", str(BASE), str(tmp_path / "nope.jsonl")]) == 1
    assert capsys.readouterr().err == f"proctrace: error: {tmp_path / 'nope.jsonl'}: No such file or directory\n"


@pytest.mark.parametrize("which", [0, 1])
def test_output_over_an_input_is_refused(which, tmp_path, capsys):
    inputs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in inputs:
        path.write_bytes(BASE.read_bytes())
    assert main(["diff", *map(str, inputs), "-o", str(inputs[which])]) == 1
    assert "is also the input" in capsys.readouterr().err
    assert inputs[which].read_bytes() == BASE.read_bytes()


def test_warnings_name_the_input_they_are_about(tmp_path, capsys):
    running = tmp_path / "running.jsonl"
    running.write_bytes(GOOD + b'{"Exec":{"timestamp":2,"pid":2,"ppid":1,"pgid":1,"cmdline":["make","-j2"]}}\n')
    assert main(["diff", str(BASE), str(running), "-o", str(tmp_path / "out")]) == 0
    assert f"proctrace: warning: {running}: 1 processes have no exit" in capsys.readouterr().err


def test_diff_runs_as_a_module_and_exits_0_whatever_the_difference():
    def run(*args):
        result = subprocess.run([sys.executable, "-m", "proctrace", *args], cwd=DATA, capture_output=True,
                                env={"PYTHONPATH": str(ROOT)})
        assert result.returncode == 0 and result.stderr == b"", (args, result.stderr)
        return result.stdout
    assert b"--min-percent" in run("diff", "-h")
    assert run("diff", "base.jsonl", "skipped.jsonl").startswith(b"A: base.jsonl: make -j2\n")
    assert json.loads(run("diff", "--json", "base.jsonl", "slowed.jsonl"))["changes"]
    assert json.loads(run("diff", "--json", "base.jsonl", "base.jsonl"))["changes"] == []
