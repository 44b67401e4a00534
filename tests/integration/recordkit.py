"""Helpers of the real-bpftrace tests: running `proctrace record` and reading what it wrote."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proctrace.events import from_json

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "tests" / "workloads"


def proctrace_env(**extra) -> dict:
    """The environment for `python3 -m proctrace` run from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def record_argv(*args) -> list:
    return [sys.executable, "-m", "proctrace", "record", *map(str, args)]


def read_recording(path) -> list:
    """The events of a recording file; every line must be a complete event."""
    data = Path(path).read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the recording ends with an incomplete line"
    return [from_json(line) for line in data.splitlines()]


def run_record(tmp_path, command, *options, timeout=120, cwd=ROOT, env=None, **kwargs):
    """Record `command` to a file; (CompletedProcess with text stderr, events)."""
    out = tmp_path / "recording.jsonl"
    result = subprocess.run(record_argv("-o", out, *options, "--", *command), cwd=cwd,
                            env=env or proctrace_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=timeout, **kwargs)
    result.stderr = result.stderr.decode("utf-8", "replace")
    return result, read_recording(out) if out.exists() else []


def attach(pid, out):
    """`record -p PID` started and past bpftrace's BEGIN marker (read from --debug output).

    The snapshot of /proc has been taken by then: record reads it before it
    shows bpftrace's first lines.
    """
    recorder = subprocess.Popen(record_argv("-o", out, "--debug", "-p", pid), cwd=ROOT,
                                env=proctrace_env(), stderr=subprocess.PIPE)
    for line in recorder.stderr:
        if b"PT_BEGIN" in line:
            break
    return recorder


def finish(recorder, timeout=60.0):
    """An attached recorder's exit status and the rest of its stderr; a recorder that hangs is
    killed and the test fails, rather than the whole run waiting for ever."""
    try:
        _, err = recorder.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.communicate()
        pytest.fail(f"record did not end within {timeout} s")
    return recorder.returncode, err.decode("utf-8", "replace")


def wait_for(predicate, timeout=60.0, interval=0.02):
    """Poll `predicate` until it is true; fail the test when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {predicate}")


def load_truth(outdir) -> dict:
    """pid -> the record each workload process wrote about itself.

    How a process ended is taken from the status its parent got from wait(),
    when there is one (the root's is proctrace's exit status).
    """
    truth = {}
    for path in Path(outdir).glob("*.json"):
        entry = json.loads(path.read_text())
        wait = path.with_suffix(".wait")
        if wait.exists():
            status = int(wait.read_text())
            entry["end"] = (["signal", os.WTERMSIG(status)] if os.WIFSIGNALED(status)
                            else ["exit", os.WEXITSTATUS(status)])
        truth[entry["pid"]] = entry
    return truth


# Runs in the terminal, as the session leader: starts the pipeline (argv, path of
# each stage's stderr), the last stage writing to a file, and writes the
# stages' exit statuses.  It lets Ctrl-C by, as an interactive shell does.
_TERMINAL_RUNNER = """
import json, signal, subprocess, sys
signal.signal(signal.SIGINT, lambda *_: None)
stages, out, statuses = json.loads(sys.argv[1])
procs, stdin = [], None
for i, (argv, err) in enumerate(stages):
    last = i == len(stages) - 1
    proc = subprocess.Popen(argv, stdin=stdin, stdout=open(out, "wb") if last else subprocess.PIPE,
                            stderr=open(err, "wb"))
    if stdin is not None:
        stdin.close()
    stdin = proc.stdout
    procs.append(proc)
codes = [proc.wait() for proc in procs]
with open(statuses, "w") as file:
    json.dump(codes, file)
"""


def ctrl_c_in_a_terminal(tmp_path, stages, *, ready, settle=0.3, timeout=120):
    """Run `stages` as a pipeline in a terminal and type Ctrl-C once the file `ready` exists.

    The terminal sends SIGINT to its whole foreground job, as it does for a
    user.  Returns (exit codes, -N for signal N; the stages' stderr as text;
    the bytes the last stage wrote).
    """
    import pty
    out, statuses = tmp_path / "pipeline.out", tmp_path / "pipeline.status"
    spec = [[list(map(str, argv)), str(tmp_path / f"stage{i}.err")] for i, argv in enumerate(stages)]
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-c", _TERMINAL_RUNNER,
                                   json.dumps([spec, str(out), str(statuses)])], proctrace_env())
    try:
        wait_for(Path(ready).exists, timeout=timeout)
        time.sleep(settle)
        os.write(master, b"\x03")
        deadline = time.monotonic() + timeout
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                pytest.fail(f"the pipeline did not end within {timeout} s of Ctrl-C")
            time.sleep(0.05)
    finally:
        os.close(master)
    errors = [Path(err).read_text(errors="replace") for _, err in spec]
    return json.loads(statuses.read_text()), errors, out.read_bytes()
