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
