"""Ctrl-C on `record | ...` in a terminal, and a reader of the recording that goes away (issue 10, point 4).

A terminal sends Ctrl-C's SIGINT to the whole pipeline.  `record` must then
end with the command's status, whether its reader died of the same Ctrl-C or
lived on, and a reader that lives on must get every event, the interrupted
processes' Exits included.  `sort` and `render`, reading a pipe, are such
readers: they finish their input.
"""

import signal
import subprocess
import sys

import pytest

from proctrace.events import Exec, Exit, Fork
from recordkit import ROOT, ctrl_c_in_a_terminal, proctrace_env, record_argv

pytestmark = pytest.mark.bpftrace

# a reader that ignores Ctrl-C (as `sort` and `render` must) and one that dies of it
LIVES = ["sh", "-c", "trap '' INT; exec cat"]
DIES = ["cat"]


def _command(started):
    return ["sh", "-c", f"sleep 0.5; touch {started}; sleep 30"]


def test_ctrl_c_on_a_pipeline_whose_reader_dies_ends_with_the_commands_status(tmp_path):
    # Regression: record's output pipe was gone, and it exited 141, not 130
    started = tmp_path / "started"
    statuses, errors, _ = ctrl_c_in_a_terminal(tmp_path, [record_argv("--", *_command(started)), DIES],
                                               ready=started)
    assert statuses == [128 + signal.SIGINT, -signal.SIGINT], errors
    assert errors[0] == ""


def test_ctrl_c_on_a_pipeline_gives_a_living_reader_every_event(tmp_path):
    from proctrace.events import from_json
    started = tmp_path / "started"
    statuses, errors, out = ctrl_c_in_a_terminal(tmp_path, [record_argv("--", *_command(started)), LIVES],
                                                 ready=started)
    assert statuses == [128 + signal.SIGINT, 0], errors
    assert errors == ["", ""]
    assert out.endswith(b"\n")
    events = [from_json(line) for line in out.splitlines()]
    root = next(e.child_pid for e in events if isinstance(e, Fork))
    sleep = next(e.pid for e in events if isinstance(e, Exec) and e.cmdline == ("sleep", "30"))
    exits = {e.pid: e for e in events if isinstance(e, Exit)}
    assert exits[root].signal == exits[sleep].signal == signal.SIGINT
    started_pids = {e.child_pid for e in events if isinstance(e, Fork)}
    assert started_pids <= set(exits), "a process of the tree has no Exit"


def test_a_reader_that_stops_reading_early_still_gets_the_commands_status(tmp_path):
    # `record | head -c 1`: the pipe closes while the command still runs;
    # record stops tracing, but waits for the command and ends with its status
    done = tmp_path / "done"
    script = f"i=0; while [ $i -lt 25 ]; do /bin/true; sleep 0.1; i=$((i+1)); done; touch {done}; exit 3"
    pipeline = subprocess.Popen(record_argv("--", "sh", "-c", script), cwd=ROOT, env=proctrace_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert pipeline.stdout.read(1) == b"{"
    pipeline.stdout.close()
    _, err = pipeline.communicate(timeout=120)
    assert pipeline.returncode == 3, err
    assert done.exists()
    assert err == b""


PROCTRACE = [sys.executable, "-m", "proctrace"]


@pytest.mark.parametrize("downstream", [
    [PROCTRACE + ["sort"]],
    [PROCTRACE + ["sort"], PROCTRACE + ["render", "-f", "multiplexed"]],
], ids=["sort", "sort-render"])
def test_ctrl_c_on_the_readme_pipeline_keeps_the_whole_recording(tmp_path, downstream):
    # Regression: out.jsonl was left empty (sort died holding its window)
    from proctrace.events import from_json
    started = tmp_path / "started"
    statuses, errors, out = ctrl_c_in_a_terminal(tmp_path, [record_argv("--", *_command(started)), *downstream],
                                                 ready=started)
    events = [from_json(line) for line in out.splitlines()]
    assert any(isinstance(e, Exec) and e.cmdline == ("sleep", "30") for e in events), (statuses, errors)
    # the downstream stages finished their whole input
    assert statuses == [128 + signal.SIGINT] * (1 + len(downstream)), errors
    assert errors == [""] * (1 + len(downstream))
    root = next(e.child_pid for e in events if isinstance(e, Fork))
    sleep = next(e.pid for e in events if isinstance(e, Exec) and e.cmdline == ("sleep", "30"))
    exits = {e.pid: e for e in events if isinstance(e, Exit)}
    assert exits[root].signal == exits[sleep].signal == signal.SIGINT
    assert {e.child_pid for e in events if isinstance(e, Fork)} <= set(exits)
