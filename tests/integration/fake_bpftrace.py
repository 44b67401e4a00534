#!/usr/bin/env python3
"""A stand-in for bpftrace, to test how `record` copes with what the real one rarely does.

FAKE_BPFTRACE_MODE=reject  complain about the script, as bpftrace does, and exit 1
FAKE_BPFTRACE_MODE=lost    start, report lost events, stop cleanly on SIGINT
FAKE_BPFTRACE_MODE=die     start, then die while the command still runs
FAKE_BPFTRACE_MODE=killed  start, then be killed by SIGKILL while the command still runs
"""

import os
import signal
import sys
import time

mode = os.environ.get("FAKE_BPFTRACE_MODE", "lost")
root = sys.argv[-1]
if mode == "reject":
    sys.stderr.write("stdin:3:5-9: ERROR: Unknown struct/union: 'task_strukt'\n")
    sys.exit(1)
stop = []
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
print("Attaching 8 probes...", flush=True)
print(f"PT_BEGIN {time.monotonic_ns()} {root}", flush=True)
if mode == "die":
    time.sleep(0.2)
    sys.exit(1)
if mode == "killed":
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGKILL)
zeros = ", ".join(["0"] * 14)
print("PT_DUMP 0", flush=True)
print(f"@m0[{time.monotonic_ns()}, 999999, 1, 0]: (0, {root}, 1, {zeros})", flush=True)
print("@n[0, 0]: 1", flush=True)
print("@n[0, 2]: 1", flush=True)
print(f"PT_DUMPED 0 {time.monotonic_ns()}", flush=True)
print("Lost 5 events", flush=True)
while not stop:
    time.sleep(0.01)
print(f"PT_END {time.monotonic_ns()} 0", flush=True)
