"""How long `proctrace record -- /bin/true` takes to start the command and to end after it (issue 14).

    rows = bench_latency(["python3", "-S"], runs=7, env=env, cwd=repo)
    -> [{"id": "record-start", "value": 0.41, ...}, ...]

Measured from outside, on the one clock bpftrace's timestamps use too
(CLOCK_MONOTONIC): the start latency runs from just before `record` is
spawned to the Exec of /bin/true in its recording, the stop latency from the
Exit in the recording to `record` having exited (its bpftrace and the
command reaped: nothing is left behind).  Both are also given as a ratio to
the start of a minimal bpftrace program measured in the same rounds, which
is what this machine's load does to any bpftrace.  The seven-probe recorder
(one printf per event, no maps) is timed as the issue describes it: its exit
after SIGINT is the floor that bpftrace's teardown sets.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["START_MAX_S", "STOP_MAX_S", "bench_latency"]

START_MAX_S = 0.5
STOP_MAX_S = 0.3
MINIMAL = 'BEGIN { printf("x\\n"); exit(); }'
SEVEN_PROBES = """
BEGIN { printf("begin\\n"); }
tracepoint:task:task_newtask { printf("fork %d %d\\n", pid, args->pid); }
tracepoint:sched:sched_process_exec { printf("exec %d\\n", pid); }
tracepoint:sched:sched_process_exit { printf("exit %d\\n", pid); }
tracepoint:syscalls:sys_exit_setsid { printf("setsid %d\\n", pid); }
tracepoint:syscalls:sys_enter_setpgid { printf("setpgid %d\\n", pid); }
tracepoint:syscalls:sys_exit_setpgid { printf("setpgid done %d\\n", pid); }
"""


def _first_line(process: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Wait for a line on the process's stdout; False when none came."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return bool(ready) and bool(process.stdout.readline())


def minimal_start(bpftrace: str) -> Optional[float]:
    """Seconds from spawning bpftrace with MINIMAL to its first line."""
    start = time.monotonic()
    process = subprocess.Popen([bpftrace, "-e", MINIMAL], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        seen = _first_line(process)
        elapsed = time.monotonic() - start
    finally:
        process.kill()
        process.wait()
    return elapsed if seen else None


def seven_probe_exit(bpftrace: str) -> Optional[float]:
    """Seconds the seven-probe recorder takes to exit after SIGINT, once it printed."""
    process = subprocess.Popen([bpftrace, "-e", SEVEN_PROBES], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if not _first_line(process):
            return None
        time.sleep(0.2)
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.stdout.read()  # it prints an event per line until it has detached
        process.wait(timeout=60)
        return time.monotonic() - start
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def record_true(python: Sequence[str], env: Dict[str, str], cwd: str, out: str) -> Optional[Tuple[float, float, float]]:
    """(start, stop, total) seconds of one `record -o OUT -- /bin/true`; None when it failed."""
    start = time.monotonic_ns()
    result = subprocess.run([*python, "-m", "proctrace", "record", "-o", out, "--", "/bin/true"], env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=120)
    end = time.monotonic_ns()
    if result.returncode != 0:
        return None
    execs, exits = [], []
    with open(out, "rb") as file:
        for line in file:
            (kind, body), = json.loads(line).items()
            if kind == "Exec" and body["cmdline"][:1] == ["/bin/true"]:
                execs.append(body["timestamp"])
            elif kind == "Exit":
                exits.append(body["timestamp"])
    if not execs or not exits:
        return None
    return (min(execs) - start) / 1e9, (end - max(exits)) / 1e9, (end - start) / 1e9


def bench_latency(python: Sequence[str], runs: int, *, env: Dict[str, str], cwd: str, log) -> List[dict]:
    """The rows: minimal bpftrace start, record's start and stop latency, the seven-probe recorder's exit."""
    bpftrace = shutil.which("bpftrace")
    if bpftrace is None:
        return []
    samples: Dict[str, List[float]] = {"minimal": [], "start": [], "stop": [], "total": [], "seven": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "true.jsonl")
        for r in range(runs + 1):   # the first round is a warm-up
            log(f"[record] start and stop latency, round {r}/{runs}")
            minimal = minimal_start(bpftrace)
            measured = record_true(python, env, cwd, out)
            seven = seven_probe_exit(bpftrace)
            if minimal is None or measured is None or seven is None:
                what = "bpftrace -e BEGIN" if minimal is None else "record -- /bin/true" if measured is None \
                    else "the seven-probe recorder"
                return [dict(id="record-latency", measure="record start and stop latency",
                             text=f"ERROR: {what} failed", target="", status="ERROR", value=None)]
            if r:
                for name, value in zip(("minimal", "start", "stop", "total", "seven"), (minimal, *measured, seven)):
                    samples[name].append(value)
    med = {name: statistics.median(values) for name, values in samples.items()}
    spread = {name: f"{min(values):.3f}–{max(values):.3f} s" for name, values in samples.items()}

    def runs_of(name):
        return [round(x, 4) for x in samples[name]]

    stop_ok = med["stop"] <= STOP_MAX_S
    stop_floor = med["stop"] <= med["seven"]
    return [
        dict(id="bpftrace-minimal", measure="minimal bpftrace start (BEGIN, printf, exit)",
             text=f"{med['minimal'] * 1000:.0f} ms (runs {spread['minimal']})", target="baseline", status="info",
             value=round(med["minimal"], 4), runs=runs_of("minimal")),
        dict(id="record-start", measure="record -- /bin/true: start (record starts → first exec)",
             text=f"{med['start']:.3f} s, {med['start'] / med['minimal']:.1f}× minimal bpftrace start "
                  f"(runs {spread['start']})",
             target=f"≤ {START_MAX_S:.2f} s", status="PASS" if med["start"] <= START_MAX_S else "FAIL",
             value=round(med["start"], 4), ratio=round(med["start"] / med["minimal"], 2), runs=runs_of("start")),
        dict(id="record-stop", measure="record -- /bin/true: stop (last exit → record exits)",
             text=f"{med['stop']:.3f} s, {med['stop'] / med['minimal']:.1f}× minimal bpftrace start "
                  f"(runs {spread['stop']})" + ("" if stop_ok else
                                                f"; the seven-probe recorder's exit: {med['seven']:.3f} s"),
             target=f"≤ {STOP_MAX_S:.2f} s, or ≤ the seven-probe recorder's exit",
             status="PASS" if stop_ok or stop_floor else "FAIL",
             value=round(med["stop"], 4), ratio=round(med["stop"] / med["minimal"], 2), runs=runs_of("stop")),
        dict(id="seven-probe-exit", measure="seven-probe recorder (printf per event): exit after SIGINT",
             text=f"{med['seven']:.3f} s, {med['seven'] / med['minimal']:.1f}× minimal bpftrace start "
                  f"(runs {spread['seven']})", target="comparison", status="info",
             value=round(med["seven"], 4), runs=runs_of("seven")),
        dict(id="record-true", measure="record -- /bin/true: whole command",
             text=f"{med['total']:.3f} s (runs {spread['total']})", target="info (about 1 s)", status="info",
             value=round(med["total"], 4), runs=runs_of("total")),
    ]
