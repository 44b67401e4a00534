"""Where the recorded 2,000 x /bin/true loop's overhead goes (issue 14), one part at a time.

`make bench` gives one number for the loop under `proctrace record`; it sits
near its 5% line, and a change to the script or to record's Python moves it
by less than a run's noise.  This splits it.  Each configuration adds one
part to the one before, and all run interleaved, in shuffled order, round
after round:

    bare          the loop alone
    untracked     proctrace's bpftrace program attached, tracking a process
                  that is not the loop's: what every process on the host pays
    tracked       the same program tracking the loop, bpftrace's output read
                  and thrown away: adds the probes' work and bpftrace's printing
    record        `proctrace record`: adds record's Python (parsing, sorting, writing)
    record-pinned the same with the loop on CPU 0 and record and bpftrace on
                  the others: what is left when the command never waits
                  behind record's work (needs 2 CPUs or more)

For each: the median of the loop's wall time and of its CPU time (user and
system of the loop's processes), as ratios to bare.  Wall above CPU is time
the loop spent waiting for a CPU.  Needs root and bpftrace.

    sudo python3 benchmarks/loop_parts.py [--rounds 15] [--processes 2000] [--configs bare,record]

A change that only defers record's work looks like a gain here: the loop of
2,000 lasts about a third of a second, three epochs.  Check such a change
with a longer one (--processes 10000).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from proctrace.record import launch, script_text  # noqa: E402

CONFIGS = ("bare", "untracked", "tracked", "record", "record-pinned")
# The loop, timed by a Python around it: its wall time and its processes' CPU time, in ns.
LOOP = ("import resource, subprocess, sys, time\n"
        "t = time.monotonic_ns()\n"
        "subprocess.run(['sh', '-c', 'i=0; while [ $i -lt ' + sys.argv[2] + ' ]; do /bin/true; i=$((i+1)); done'])\n"
        "wall = time.monotonic_ns() - t\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "open(sys.argv[1], 'w').write(f'{wall} {int((r.ru_utime + r.ru_stime) * 1e9)}')\n")


def _discard(stream) -> None:
    while stream.read(1 << 16):
        pass


def _under_bpftrace(script: str, command: list, track_the_loop: bool) -> None:
    """Run `command` stopped, attach the program to it (or to pid 1), let it go, drain bpftrace."""
    loop = subprocess.Popen(["sh", "-c", 'kill -STOP $$; exec "$@"', "sh"] + command)
    root = loop.pid if track_the_loop else 1
    env = dict(os.environ, **launch.tracer_env())
    tracer = subprocess.Popen(["bpftrace", "-B", "line", "--no-warnings", "-e", script, str(root)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    for line in tracer.stdout:
        if line.startswith(b"PT_BEGIN"):
            break
    else:
        loop.kill()
        raise SystemExit("bpftrace did not start")
    drain = threading.Thread(target=_discard, args=(tracer.stdout,))
    drain.start()
    os.kill(loop.pid, 18)  # SIGCONT
    loop.wait()
    tracer.send_signal(2)  # SIGINT
    tracer.wait()
    drain.join()


def run(config: str, result: str, script: str, processes: int) -> tuple:
    loop = [sys.executable, "-S", "-c", LOOP, result, str(processes)]
    record = [sys.executable, "-S", "-m", "proctrace", "record", "-o", os.devnull, "--"]
    env = dict(os.environ, PYTHONPATH=REPO)
    if config == "bare":
        subprocess.run(loop, check=True)
    elif config in ("untracked", "tracked"):
        _under_bpftrace(script, loop, config == "tracked")
    elif config == "record":
        subprocess.run(record + loop, check=True, env=env)
    elif config == "record-pinned":
        others = ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)) if cpu != 0)
        subprocess.run(["taskset", "-c", others] + record + ["taskset", "-c", "0"] + loop, check=True, env=env)
    with open(result) as file:
        wall, cpu = map(int, file.read().split())
    return wall, cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--processes", type=int, default=2000, help="iterations of the loop")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    if os.geteuid() != 0:
        parser.error("needs root (bpftrace)")
    if "record-pinned" in configs and len(os.sched_getaffinity(0)) < 2:
        parser.error("record-pinned needs 2 CPUs or more")
    script = script_text(adopt=False, end_on_root=True)
    times = {config: [] for config in configs}
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "loop")
        for number in range(args.rounds):
            print(f"round {number + 1}/{args.rounds}", file=sys.stderr)
            for config in random.sample(configs, len(configs)):
                times[config].append(run(config, result, script, args.processes))
    base = {what: statistics.median(t[what] for t in times[configs[0]]) for what in (0, 1)}
    print(f"{'':14s} {'wall':>9s} {'/ ' + configs[0]:>10s} {'cpu':>9s} {'/ ' + configs[0]:>10s}")
    for config in configs:
        wall = statistics.median(t[0] for t in times[config])
        cpu = statistics.median(t[1] for t in times[config])
        print(f"{config:14s} {wall / 1e6:7.1f}ms {wall / base[0]:9.3f}x {cpu / 1e6:7.1f}ms {cpu / base[1]:9.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
