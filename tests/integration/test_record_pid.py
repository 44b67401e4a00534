"""`record -p PID` on a tree that keeps changing: nothing lost after the snapshot, nothing invented (issue 10, point 5).

The snapshot of /proc was taken before bpftrace attached its probes, and
everything that started or ended meanwhile was lost: with a shell loop, the
loop's child in the snapshot was drawn running for the whole recording, and
the first iterations after it were missing.
"""

import subprocess
import time

import pytest

from proctrace.events import Exec, Exit, Fork
from recordkit import attach, read_recording

pytestmark = pytest.mark.bpftrace


def test_pid_recording_of_a_loop_has_every_iteration_after_the_snapshot_and_every_exit(tmp_path):
    stop, log, out = tmp_path / "stop", tmp_path / "log", tmp_path / "recording.jsonl"
    script = f"i=0; while [ ! -e {stop} ]; do /bin/echo $i; i=$((i+1)); sleep 0.1; done"
    with open(log, "wb") as echoed:
        loop = subprocess.Popen(["sh", "-c", script], stdout=echoed)
    try:
        time.sleep(0.3)
        recorder = attach(loop.pid, out)
        echoed_before = len(log.read_text().split())  # the snapshot was taken before this
        time.sleep(1.0)
        stop.touch()
        err = recorder.stderr.read().decode()
        assert recorder.wait(timeout=60) == 0, err
    finally:
        stop.touch()
        loop.wait(timeout=30)
    events = read_recording(out)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert isinstance(events[0], Exec) and events[0].pid == loop.pid  # the snapshot comes first
    counters = [int(e.cmdline[1]) for e in events if isinstance(e, Exec) and e.cmdline[:1] == ("/bin/echo",)]
    print(f"counters {counters[0]}..{counters[-1]} recorded ({len(counters)}), {echoed_before} echoed before")
    assert counters == list(range(counters[0], counters[0] + len(counters))), "an iteration is missing"
    assert counters[0] <= echoed_before, "iterations after the snapshot are missing"
    assert counters[-1] == len(log.read_text().split()) - 1
    # every process ended (the loop did), and every child ran echo or sleep
    pids = {e.child_pid for e in events if isinstance(e, Fork)} | {e.pid for e in events if isinstance(e, Exec)}
    exits = {e.pid for e in events if isinstance(e, Exit)}
    assert pids == exits, f"no Exit for {sorted(pids - exits)}"
    programs = {e.pid: e.cmdline[0] for e in events if isinstance(e, Exec)}
    assert all(programs.get(pid) in ("/bin/echo", "sleep") for pid in pids - {loop.pid})
