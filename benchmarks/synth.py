"""Deterministic synthetic recordings of a parallel build, for the benchmarks.

Produces two JSON-lines files holding the same events: one in *arrival
order* (what bpftrace hands over: every event delayed by up to 2 ms, as its
per-CPU buffers do, so slightly out of timestamp order) and one already in
timestamp order (what `proctrace record` writes).

The build: `make -j16` (the root) runs one sub-make per directory
(`make -C dirNNN`), and each sub-make runs compiler jobs (`cc ... -c -o
x.o x.c`, eight arguments).  Every process is forked, exec's and exits, so
the events are one third Fork, one third Exec and one third Exit:

    {"Fork":{"timestamp":1000000123,"parent_pid":10001,"child_pid":10002,"parent_pgid":10000}}
    {"Exec":{"timestamp":1000081456,"pid":10002,"ppid":10001,"pgid":10000,"cmdline":["cc",...]}}
    {"Exit":{"timestamp":1002345678,"pid":10002,"ppid":10001,"pgid":10000,"exit_code":0,"signal":null}}

Generation streams (two heaps, bounded memory), is seeded, and writes lines
with a format string that `check_writer` proves identical to
`proctrace.events.to_json`.
"""

from __future__ import annotations

import heapq
import json
import os
import random
from typing import Iterator, List, Optional, Tuple

__all__ = ["generate", "ensure_recordings", "check_writer", "GENERATOR_VERSION"]

# Bump when the generated data changes, so cached files are regenerated.
GENERATOR_VERSION = 1
SEED = 20240604

JOBS = 16                      # make -j16
JOBS_PER_DIR = 300             # compiler jobs per sub-make
MAX_DELAY_NS = 2_000_000       # per-CPU buffer delay: up to 2 ms
ROOT_PID = 10_000
SHELL_PID = 9_999              # the shell that started make: outside the recording
T0_NS = 1_000_000_000_000      # ~17 minutes after boot

# (kind, ts_ns, a, b, c, extra): a tuple per event, turned into a line by _line.
_Event = Tuple[str, int, int, int, int, object]


def _argv_json(argv: List[str]) -> str:
    return "[" + ",".join(json.dumps(arg, ensure_ascii=False) for arg in argv) + "]"


def _line(kind: str, ts: int, a: int, b: int, c: int, extra) -> str:
    # Same field order and spelling as proctrace.events.to_json (check_writer proves it).
    if kind == "Fork":   # a=parent_pid b=child_pid c=parent_pgid
        return '{"Fork":{"timestamp":%d,"parent_pid":%d,"child_pid":%d,"parent_pgid":%d}}' % (ts, a, b, c)
    if kind == "Exec":   # a=pid b=ppid c=pgid extra=argv json
        return '{"Exec":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d,"cmdline":%s}}' % (ts, a, b, c, extra)
    # Exit: a=pid b=ppid c=pgid
    return ('{"Exit":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d,"exit_code":0,"signal":null}}'
            % (ts, a, b, c))


def _event_object(kind: str, ts: int, a: int, b: int, c: int, extra):
    from proctrace.events import Exec, Exit, Fork
    if kind == "Fork":
        return Fork(ts, a, b, c)
    if kind == "Exec":
        return Exec(ts, a, b, c, tuple(json.loads(extra)))
    return Exit(ts, a, b, c, exit_code=0, signal=None)


def _compiler_argv(rng: random.Random, d: int, f: int) -> List[str]:
    cc = "cc" if rng.random() < 0.8 else "c++"
    ext = "c" if cc == "cc" else "cpp"
    opt = ("-O2", "-O2", "-O0", "-Os")[rng.randrange(4)]
    return [cc, opt, "-Wall", f"-Iinclude/dir{d:03d}", "-c", "-o",
            f"build/dir{d:03d}/file{f:04d}.o", f"src/dir{d:03d}/file{f:04d}.{ext}"]


def _job_duration_ns(rng: random.Random) -> int:
    # Mostly short (compiles of small files, 1-3 ms here), a long tail of big ones.
    return int(min(rng.lognormvariate(14.5, 0.9), 200e6))


def _events_in_time_order(n_events: int, rng: random.Random) -> Iterator[_Event]:
    """The build's events, in nondecreasing timestamp order (n_events rounded down to 3s)."""
    n_procs = max(n_events // 3, 2)
    pending: List[Tuple[int, int, _Event]] = []   # (ts, seq, event) not yet yielded
    seq = 0

    def push(ev: _Event) -> None:
        nonlocal seq
        heapq.heappush(pending, (ev[1], seq, ev))
        seq += 1

    root, pgid = ROOT_PID, ROOT_PID
    push(("Fork", T0_NS, SHELL_PID, root, SHELL_PID, None))
    push(("Exec", T0_NS + 90_000, root, SHELL_PID, pgid, _argv_json(["make", "-j16", "all"])))
    procs = 1
    next_pid = root + 1
    slots = [T0_NS + 500_000 + i * 20_000 for i in range(JOBS)]   # when each job slot is free
    heapq.heapify(slots)
    last_end = T0_NS
    d = 0
    while procs < n_procs:
        # one directory: a sub-make, then its compiler jobs on the free slots
        jobs = min(JOBS_PER_DIR, n_procs - procs - 1)
        sub = next_pid
        next_pid += 1
        start = slots[0]
        push(("Fork", start - 200_000, root, sub, pgid, None))
        push(("Exec", start - 120_000, sub, root, pgid,
              _argv_json(["make", "-C", f"dir{d:03d}", "-j16", "all"])))
        sub_end = start
        for f in range(jobs):
            fork_ts = heapq.heappop(slots) + rng.randrange(5_000, 60_000)
            exec_ts = fork_ts + rng.randrange(40_000, 250_000)
            exit_ts = exec_ts + _job_duration_ns(rng)
            heapq.heappush(slots, exit_ts)
            pid = next_pid
            next_pid += 1
            push(("Fork", fork_ts, sub, pid, pgid, None))
            push(("Exec", exec_ts, pid, sub, pgid, _argv_json(_compiler_argv(rng, d, f))))
            push(("Exit", exit_ts, pid, sub, pgid, None))
            sub_end = max(sub_end, exit_ts)
        push(("Exit", sub_end + 150_000, sub, root, pgid, None))
        last_end = max(last_end, sub_end + 150_000)
        procs += jobs + 1
        d += 1
        # Nothing scheduled from now on starts before the earliest free slot
        # (minus the sub-make's lead), so everything before that is final.
        safe = slots[0] - 250_000
        while pending and pending[0][0] < safe:
            yield heapq.heappop(pending)[2]
    push(("Exit", last_end + 300_000, root, SHELL_PID, pgid, None))
    while pending:
        yield heapq.heappop(pending)[2]


def generate(n_events: int, arrival_path: str, sorted_path: str, *, seed: int = SEED,
             check: int = 2000) -> int:
    """Write both files; returns the number of events.  Checks the first `check` lines against to_json."""
    rng = random.Random(seed)
    delay_rng = random.Random(seed + 1)
    arriving: List[Tuple[int, int, str]] = []   # (arrival ts, seq, line)
    count = 0
    checked = 0
    with open(arrival_path + ".tmp", "w", encoding="utf-8") as arrival_out, \
            open(sorted_path + ".tmp", "w", encoding="utf-8") as sorted_out:
        a_buf: List[str] = []
        s_buf: List[str] = []
        last_ts = -1
        for ev in _events_in_time_order(n_events, rng):
            if ev[1] <= last_ts:
                # distinct timestamps, so "sorted" has one meaning whatever the tie rule
                ev = (ev[0], last_ts + 1) + ev[2:]
            last_ts = ev[1]
            line = _line(*ev)
            if checked < check:
                check_writer(ev, line)
                checked += 1
            ts = ev[1]
            s_buf.append(line)
            # every event arrives up to 2 ms late; an event cannot arrive before
            # it happened, so everything due by `ts` has arrived for good
            heapq.heappush(arriving, (ts + delay_rng.randrange(MAX_DELAY_NS + 1), count, line))
            count += 1
            while arriving[0][0] <= ts:
                a_buf.append(heapq.heappop(arriving)[2])
            if len(s_buf) >= 10_000:
                sorted_out.write("\n".join(s_buf) + "\n")
                s_buf.clear()
            if len(a_buf) >= 10_000:
                arrival_out.write("\n".join(a_buf) + "\n")
                a_buf.clear()
        while arriving:
            a_buf.append(heapq.heappop(arriving)[2])
        if s_buf:
            sorted_out.write("\n".join(s_buf) + "\n")
        if a_buf:
            arrival_out.write("\n".join(a_buf) + "\n")
    os.replace(arrival_path + ".tmp", arrival_path)
    os.replace(sorted_path + ".tmp", sorted_path)
    return count


def check_writer(ev: _Event, line: str) -> None:
    """Raise if the fast writer's line differs from proctrace.events.to_json's."""
    from proctrace.events import from_json, to_json
    obj = _event_object(*ev)
    expected = to_json(obj)
    if line != expected:
        raise AssertionError(f"synthetic writer differs from to_json:\n  {line}\n  {expected}")
    if from_json(line) != obj:
        raise AssertionError(f"synthetic line does not round-trip: {line}")


def ensure_recordings(cache_dir: str, n_events: int, *, log=print) -> Tuple[str, str, int]:
    """Paths of the (arrival order, sorted) recordings of about n_events, generating them if needed."""
    os.makedirs(cache_dir, exist_ok=True)
    stem = os.path.join(cache_dir, f"build-{n_events}-v{GENERATOR_VERSION}-s{SEED}")
    arrival, ordered, meta = stem + "-arrival.jsonl", stem + "-sorted.jsonl", stem + ".json"
    info: Optional[dict] = None
    if os.path.exists(meta) and os.path.exists(arrival) and os.path.exists(ordered):
        try:
            with open(meta) as f:
                info = json.load(f)
            if (os.path.getsize(arrival) != info["bytes"] or os.path.getsize(ordered) != info["bytes"]):
                info = None
        except (OSError, ValueError, KeyError):
            info = None
    if info is None:
        log(f"generating {n_events} events into {stem}-*.jsonl ...")
        count = generate(n_events, arrival, ordered)
        info = {"events": count, "bytes": os.path.getsize(arrival), "generator": GENERATOR_VERSION,
                "seed": SEED}
        with open(meta, "w") as f:
            json.dump(info, f)
    return arrival, ordered, info["events"]
