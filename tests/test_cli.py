"""The command line as a user meets it: exit codes, one-line errors, pipes, Ctrl-C."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from proctrace.cli import build_parser, main
from proctrace.events import ParseError

ROOT = Path(__file__).resolve().parent.parent
TRICKY = ROOT / "tests" / "data" / "recordings" / "tricky.jsonl"
GOOD = b'{"Fork":{"timestamp":1,"parent_pid":1,"child_pid":2,"parent_pgid":1}}\n'


def _run(args, tmp_path, data=None):
    path = tmp_path / "in.jsonl"
    if data is not None:
        path.write_bytes(data)
    return main(args + ["-i", str(path), "-o", str(tmp_path / "out")]), path


BAD_FOR_EVERY_COMMAND = [
    (GOOD + b'{"Fork":{"timestamp":2,"parent_pid":1', ":2: truncated or malformed JSON"),
    (GOOD + b'not json\n', ":2: not a JSON event"),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe', ":1: not a JSON event"),
    (b"", ": no events: the recording is empty"),
    (b"\n\n", ": no events: the recording is empty"),
    (GOOD + b'{"Exit":{"pid":3}}\n', ":2: Exit event has no 'timestamp' field"),
]
# sort reads only the timestamp (lines pass through byte for byte); render checks every field
BAD_FOR_RENDER = [
    (GOOD + b'{"Fork":{"timestamp":2,"parent_pid":1,"child_pid":3}}\n', ":2: Fork event has no 'parent_pgid' field"),
    (GOOD + b'{"Exit":{"timestamp":2,"pid":"3","ppid":1,"pgid":1}}\n', ":2: Exit field 'pid' must be a non-negative integer"),
]
CASES = [(cmd, data, reason) for cmd in (["sort"], ["render"], ["render", "-f", "mermaid"])
         for data, reason in BAD_FOR_EVERY_COMMAND + (BAD_FOR_RENDER if cmd != ["sort"] else [])]


@pytest.mark.parametrize("command, data, reason", CASES)
def test_bad_input_is_one_line_naming_file_and_line(command, data, reason, tmp_path, capsys):
    status, path = _run(command, tmp_path, data)
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1, err
    assert err.startswith(f"proctrace: error: {path}") and reason in err, err


def test_missing_input_file(tmp_path, capsys):
    assert main(["render", "-i", str(tmp_path / "nope.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err == f"proctrace: error: {tmp_path / 'nope.jsonl'}: No such file or directory\n"


def test_unwritable_output(tmp_path, capsys):
    assert main(["sort", "-i", str(TRICKY), "-o", str(tmp_path / "no" / "such" / "dir")]) == 1
    assert "No such file or directory" in capsys.readouterr().err


def test_unknown_kinds_warn_once_and_go_on(tmp_path, capsys):
    data = GOOD + b'{"Mmap":{"timestamp":2}}\n{"Mmap":{"timestamp":3}}\n'
    status, _ = _run(["render"], tmp_path, data)
    assert status == 0
    err = capsys.readouterr().err
    assert err.count("unknown kind 'Mmap'") == 1
    assert (tmp_path / "out").read_bytes() == GOOD


def test_late_events_are_written_and_reported(tmp_path, capsys):
    # the filler pushes the late line into a later read of the input
    early = [b'{"Lost":{"timestamp":3000000000,"count":1}}\n'] * 40_000
    later = [b'{"Lost":{"timestamp":5000000000,"count":1}}\n'] * 40_000
    lines = early + later + [b'{"Lost":{"timestamp":1000000000,"count":1}}\n']
    status, _ = _run(["sort", "--window", "1s"], tmp_path, b"".join(lines))
    assert status == 0
    assert (tmp_path / "out").read_bytes().count(b"\n") == len(lines)
    err = capsys.readouterr().err
    assert "1 events arrived later than the 1s window" in err and "--window 4s" in err


def test_sort_passes_lines_through_byte_for_byte(tmp_path):
    status, _ = _run(["sort"], tmp_path, TRICKY.read_bytes())
    out = (tmp_path / "out").read_bytes()
    assert status == 0
    assert sorted(out.splitlines()) == sorted(TRICKY.read_bytes().splitlines())


def test_lost_events_warn_in_every_format(tmp_path, capsys):
    for fmt in ("multiplexed", "by-process", "mermaid"):
        assert main(["render", "-f", fmt, "-i", str(TRICKY), "-o", str(tmp_path / fmt)]) == 0
        assert "incomplete: the kernel lost 3 events" in capsys.readouterr().err


def test_display_mode_is_an_alias_of_format():
    assert build_parser().parse_args(["render", "-d", "mermaid"]).format == "mermaid"
    assert build_parser().parse_args(["render", "--display-mode", "by-process"]).format == "by-process"


@pytest.mark.parametrize("args", [["--window", "soon"], ["-f", "pdf"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["render"] + args)
    assert info.value.code == 2


def _proctrace(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "proctrace", *args], cwd=ROOT, **kwargs)


def _wait_until_read(proc, timeout=60.0):
    """Wait until the stage has read all that was written to its stdin pipe.

    A stage sets its Ctrl-C handler before it reads: a Ctrl-C sent before
    that (a fixed sleep, on a loaded machine, is not always long enough for
    Python to start) would meet Python's own handler instead.
    """
    import array
    import fcntl
    import termios
    unread = array.array("i", [0])
    deadline = time.monotonic() + timeout
    while True:
        fcntl.ioctl(proc.stdin.fileno(), termios.FIONREAD, unread)  # bytes still in the pipe
        if not unread[0]:
            return
        assert time.monotonic() < deadline, f"the stage read nothing in {timeout} s"
        time.sleep(0.01)


def test_version_and_help_run_as_a_module():
    out = subprocess.run([sys.executable, "-m", "proctrace", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("proctrace ")
    for sub in ("record", "sort", "render"):
        assert subprocess.run([sys.executable, "-m", "proctrace", sub, "-h"], cwd=ROOT,
                              capture_output=True).returncode == 0


def test_closed_output_pipe_ends_quietly(tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join(b'{"Lost":{"timestamp":%d,"count":1}}\n' % i for i in range(200_000)))
    for args in (["sort"], ["render"], ["render", "-f", "by-process"]):
        proc = _proctrace(*args, "-i", str(big), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait() == 141 and b"Traceback" not in err and b"error" not in err, (args, err)


@pytest.mark.parametrize("args", [["sort"], ["render", "-f", "by-process"], ["render", "-f", "mermaid"],
                                  ["sort", "-i", "/dev/stdin"]])
def test_a_first_ctrl_c_on_a_pipe_lets_the_stage_finish_its_input(args):
    # issue 10, point 4: Ctrl-C reaches the whole pipeline; `record` before us
    # writes its last events and closes the pipe, and they must not be lost
    proc = _proctrace(*args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(GOOD)
    proc.stdin.flush()
    _wait_until_read(proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.stdin.write(GOOD.replace(b"timestamp\":1", b"timestamp\":2"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"error" not in err and b"Traceback" not in err
    assert out.count(b'"child_pid":2') == 2 or b"pid 2" in out


def test_a_second_ctrl_c_ends_quietly_with_130():
    proc = _proctrace("sort", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(GOOD)
    proc.stdin.flush()
    _wait_until_read(proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == b""


@pytest.mark.parametrize("closed, message", [("0", "<stdin>: standard input is closed"),
                                             ("1", "<stdout>: standard output is closed")])
@pytest.mark.parametrize("command", [["sort"], ["render", "-f", "mermaid"]])
def test_a_closed_standard_stream_is_one_error_line(closed, message, command):
    # issue 10, point 2: `proctrace sort <&-` gave an AttributeError traceback
    redirect = "<&-" if closed == "0" else ">&-"
    args = ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "proctrace", *command]
    out = subprocess.run(args, cwd=ROOT, stdin=subprocess.DEVNULL if closed == "1" else None,
                         stdout=subprocess.PIPE if closed == "0" else None, stderr=subprocess.PIPE)
    assert out.returncode == 1 and out.stderr.decode() == f"proctrace: error: {message}\n"


@pytest.mark.parametrize("args, stdin_is_input, stdout_is_input", [
    (["sort", "-o", "{rec}"], True, False),             # proctrace sort -o rec.jsonl < rec.jsonl
    (["render", "-f", "tree", "-o", "{rec}"], True, False),
    (["sort", "-i", "{rec}"], False, True),             # proctrace sort -i rec.jsonl >> rec.jsonl
    (["sort"], True, True),                             # proctrace sort < rec.jsonl >> rec.jsonl
    (["render", "-i", "{rec}"], False, True),
    (["diff", "{rec}", str(TRICKY)], False, True),
])
def test_a_standard_stream_that_is_the_input_file_is_refused(args, stdin_is_input, stdout_is_input, tmp_path):
    """-o F with F as standard input emptied F; appending standard output to
    the input read our own output back, and a 2 MB recording grew by 75 MB
    a second until the disk was full."""
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(TRICKY.read_bytes())
    before = rec.read_bytes()
    with open(rec, "rb") as stdin, open(rec, "ab") as stdout:
        proc = subprocess.run([sys.executable, "-m", "proctrace", *(arg.format(rec=rec) for arg in args)], cwd=ROOT,
                              stdin=stdin if stdin_is_input else subprocess.DEVNULL,
                              stdout=stdout if stdout_is_input else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=60)
    name = "<stdout>" if stdout_is_input else str(rec)
    errors = [line for line in proc.stderr.decode().splitlines() if not line.startswith("proctrace: warning:")]
    assert (proc.returncode, errors) == (1, [f"proctrace: error: {name}: is also the input: writing it would "
                                             f"destroy the recording; write to another file"])
    assert rec.read_bytes() == before


@pytest.mark.parametrize("command", [["sort"], ["render"], ["render", "-f", "tree"]])
@pytest.mark.parametrize("output", ["out.jsonl", "out.jsonl.gz", "link.jsonl"])
def test_an_error_leaves_the_output_file_as_it_was(command, output, tmp_path, capsys):
    """Bad input after a megabyte of good lines: sort wrote the good ones over
    the old file, a cut recording that ended on a whole line and read as
    complete."""
    good = b"".join(b'{"Lost":{"timestamp":%d,"count":1}}\n' % i for i in range(40_000))
    (tmp_path / "in.jsonl").write_bytes(good + b"not json\n" + good)
    (tmp_path / "out.jsonl").write_bytes(b"the old file\n")
    (tmp_path / "out.jsonl.gz").write_bytes(b"the old file\n")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "out.jsonl")
    (tmp_path / "out.jsonl").chmod(0o640)
    assert main(command + ["-i", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / output)]) == 1
    assert ":40001: not a JSON event" in capsys.readouterr().err
    assert (tmp_path / output).read_bytes() == b"the old file\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "link.jsonl", "out.jsonl", "out.jsonl.gz"]
    # and once the input is good, the file is replaced, keeping its link and its permissions
    (tmp_path / "in.jsonl").write_bytes(good)
    assert main(command + ["-i", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / output)]) == 0
    assert (tmp_path / output).read_bytes() != b"the old file\n"
    assert (tmp_path / "link.jsonl").is_symlink() and (tmp_path / "out.jsonl").stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "link.jsonl", "out.jsonl", "out.jsonl.gz"]


@pytest.mark.parametrize("command", [["render"], ["render", "-f", "tree"]])
def test_legacy_args_that_complete_no_exec_are_not_dropped_silently(command, tmp_path, capsys):
    text = (GOOD + b'{"Exec":{"timestamp":2,"pid":2,"ppid":1,"pgid":2,"cmdline":[]}}\n'
            b'{"ExecArgs":{"timestamp":2,"pid":3,"args":"of another pid"}}\n'
            b'{"ExecArgs":{"timestamp":2,"pid":2,"args":"a b"}}\n'
            b'{"ExecFilename":{"timestamp":7,"pid":2,"filename":"/bin/of-no-exec"}}\n'
            b'{"Exit":{"timestamp":9,"pid":2,"ppid":1,"pgid":2}}\n')
    status, _ = _run(command, tmp_path, text)
    assert status == 0
    assert "proctrace: warning: 2 ExecArgs or ExecFilename events follow no Exec of their pid and time: ignored " \
           "(the first at 2 ns, pid 3)\n" in capsys.readouterr().err
    assert b"a b" in (tmp_path / "out").read_bytes() or b'["a","b"]' in (tmp_path / "out").read_bytes()


@pytest.mark.parametrize("command", [["render", "-f", "summary-json"], ["render"], ["sort", "--window", "0ns"]])
def test_a_closed_standard_error_keeps_warnings_out_of_the_output(command):
    """With `2>&-`, sys.stderr is None, and print(file=None) wrote every
    warning and error to standard output: into the JSON or the recording."""
    late = TRICKY.read_bytes() + b'{"Lost":{"timestamp":0,"count":1}}\n'
    args = ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "proctrace", *command]
    out = subprocess.run(args, cwd=ROOT, input=late, stdout=subprocess.PIPE, timeout=60)
    assert out.returncode == 0 and b"proctrace:" not in out.stdout
    if command[-1] == "summary-json":
        import json
        json.loads(out.stdout)
    bad = subprocess.run(args + ["-i", "/nonexistent"], cwd=ROOT, stdout=subprocess.PIPE, timeout=60)
    assert (bad.returncode, bad.stdout) == (1, b"")


def test_a_standard_error_pipe_whose_reader_left_does_not_stop_the_output():
    """A warning written to a broken stderr pipe raised BrokenPipeError, taken
    for a closed output: exit 141 and nothing written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run([sys.executable, "-m", "proctrace", "render", "-f", "summary-json", "-i", str(TRICKY)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=write_end, timeout=60)
    finally:
        os.close(write_end)
    assert out.returncode == 0 and out.stdout.startswith(b"{") and out.stdout.endswith(b"}\n")
