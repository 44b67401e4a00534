#!/usr/bin/env python3
"""The figures of issue 3's closing note, measured on this machine (as root, with bpftrace).

    python3 tests/workloads/measure_record.py [--trees N] [--runs N]

- ground truth: fields matched / fields checked over N random trees (with an
  unrelated loop of short processes running on the host);
- overhead: a loop of 2,000 /bin/true, bare and recorded (median of --runs);
  "recorded" is the loop's own run time inside the recording (its Exec to its
  Exit) and, separately, the whole `proctrace record` wall time;
- start latency: from launching `proctrace record` to the command's exec
  (both CLOCK_MONOTONIC: bpftrace's nsecs is the same clock).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

from proctrace.events import Exec, Exit, from_json  # noqa: E402
from recordkit import load_truth, proctrace_env, record_argv  # noqa: E402
from test_ground_truth import compare  # noqa: E402

LOOP = ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do /bin/true; i=$((i+1)); done"]


def record(command, out):
    started = time.monotonic_ns()
    result = subprocess.run(record_argv("-o", out, "--", *command), cwd=ROOT, env=proctrace_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic_ns() - started
    if result.returncode != 0:
        raise SystemExit(f"record failed: {result.stderr.decode()}")
    events = [from_json(line) for line in Path(out).read_bytes().splitlines()]
    return started, wall, events


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="proctrace-measure-"))

    host = subprocess.Popen(["sh", "-c", "while :; do /bin/true; /bin/true; sleep 0.002; done"],
                            start_new_session=True)
    checked = matched = processes = 0
    try:
        for seed in range(1, args.trees + 1):
            outdir = tmp / f"truth{seed}"
            outdir.mkdir()
            _, _, events = record([sys.executable, str(HERE / "random_tree.py"), "root", str(outdir), str(seed)],
                                  tmp / f"tree{seed}.jsonl")
            truth = load_truth(outdir)
            c, m, problems = compare(truth, events)
            checked, matched, processes = checked + c, matched + m, processes + len(truth)
            for problem in problems:
                print(f"  seed {seed}: {problem}")
    finally:
        host.kill()
        host.wait()
    print(f"ground truth: {matched}/{checked} fields match over {args.trees} trees ({processes} processes)")

    bare, inside, walls, latencies = [], [], [], []
    for run in range(args.runs):
        started = time.monotonic()
        subprocess.run(LOOP, check=True)
        bare.append(time.monotonic() - started)
        launched, wall, events = record(LOOP, tmp / f"loop{run}.jsonl")
        root = next(e for e in events if isinstance(e, Exec) and e.cmdline == tuple(LOOP))
        end = next(e for e in events if isinstance(e, Exit) and e.pid == root.pid)
        inside.append((end.timestamp - root.timestamp) / 1e9)
        walls.append(wall / 1e9)
        latencies.append((root.timestamp - launched) / 1e9)
        execs = sum(1 for e in events if isinstance(e, Exec))
        assert execs == 2001, execs
    median = statistics.median
    print(f"2,000 /bin/true: bare {median(bare):.3f} s, recorded {median(inside):.3f} s "
          f"(+{(median(inside) / median(bare) - 1) * 100:.0f}%), whole `record` {median(walls):.3f} s "
          f"(median of {args.runs}; bare runs {', '.join(f'{x:.2f}' for x in bare)}; "
          f"recorded {', '.join(f'{x:.2f}' for x in inside)})")
    print(f"record start -> command exec: median {median(latencies):.3f} s "
          f"(min {min(latencies):.3f}, max {max(latencies):.3f})")


if __name__ == "__main__":
    main()
