"""`record -p PID` on a tree that keeps changing: nothing lost after the snapshot, nothing invented (issue 10, point 5).

The snapshot of /proc was taken before bpftrace attached its probes, and
everything that started or ended meanwhile was lost: with a shell loop, the
loop's child in the snapshot was drawn running for the whole recording, and
the first iterations after it were missing.
"""

import subprocess
import sys
import time

import pytest

from proctrace.events import Exec, Exit, Fork
from recordkit import attach, finish, read_recording

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
        status, err = finish(recorder)
        assert status == 0, err
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
    assert pids <= exits, f"no Exit for {sorted(pids - exits)}"
    programs = {e.pid: e.cmdline[0] for e in events if isinstance(e, Exec)}
    assert all(programs[pid] in ("/bin/echo", "sleep") for pid in pids - {loop.pid})
    # one that ended while /proc was read (rarely) has only its Exit, and that is said
    unread = sorted(exits - pids)
    if unread:
        assert f"before /proc could be read: only the Exit is recorded, not the command line " \
               f"(pid {', '.join(map(str, unread))})" in err


def test_a_process_of_the_snapshot_that_leaves_the_tree_and_ends_unseen_is_said(tmp_path):
    # A process of the snapshot whose parent ends is adopted by init and
    # leaves PID's tree; its end is then not traced (unless it forked or
    # exec'd since the snapshot).  It must not be left running in silence.
    go, done, out = tmp_path / "go", tmp_path / "done", tmp_path / "recording.jsonl"
    leaf_script = ("import os, sys, time\n"
                   "while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n"
                   "time.sleep(0.5)\n"
                   "open(sys.argv[2], 'w').close()\n")
    script = (
        "import os, subprocess, sys, time\n"
        f"go, done = {str(go)!r}, {str(done)!r}\n"
        "middle = os.fork()\n"
        "if middle == 0:\n"
        f"    leaf = subprocess.Popen([sys.executable, '-c', {leaf_script!r}, go, done])\n"
        "    print(leaf.pid, flush=True)\n"
        "    while not os.path.exists(go): time.sleep(0.01)\n"
        "    os._exit(0)\n"
        "os.waitpid(middle, 0)\n"
        "while not os.path.exists(done): time.sleep(0.01)\n")
    target = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    leaf = int(target.stdout.readline())
    try:
        recorder = attach(target.pid, out)
        go.touch()
        status, err = finish(recorder)
        assert status == 0, err
    finally:
        go.touch()
        target.wait(timeout=30)
    events = read_recording(out)
    assert any(isinstance(e, Exec) and e.pid == leaf for e in events)  # in the snapshot
    assert not any(isinstance(e, Exit) and e.pid == leaf for e in events)
    assert f"  {leaf} {sys.executable} -c import os" in err
    assert "1 process of the snapshot left the tree" in err
