#!/usr/bin/env python3
"""The proctrace benchmark suite (issue 4): `make bench`, or `python3 benchmarks/run.py`.

Times whole `proctrace` processes on synthetic parallel-build recordings next
to baselines measured in the same run (GNU sort, a bare Python read loop),
measures `proctrace record`'s overhead and completeness and the start-up
time, prints one table (measure, value, target, PASS/FAIL) and writes it as
JSON to benchmarks/results/latest.json.  See benchmarks/README.md.

    python3 benchmarks/run.py --quick --skip-record
    python3 benchmarks/run.py --compare benchmarks/results/before.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(1, REPO)

from measure import Sample, fmt_mib, fmt_rate, fmt_seconds, median, run_child  # noqa: E402
from latency import bench_latency  # noqa: E402
from synth import ensure_recordings  # noqa: E402

CACHE_DIR = os.path.join(HERE, "cache")
RESULTS = os.path.join(HERE, "results", "latest.json")
MIB = 1024  # KiB

# Targets from issue 4: (max ratio to GNU sort on the same file, max peak RSS in MiB).
TARGETS = {
    "sort-arrival": (1.8, 64),
    "sort-sorted": (1.0, 64),
    "render-multiplexed": (2.0, 64),
    "render-by-process": (3.0, 256),
    "render-mermaid": (5.0, 256),
    "render-tree": (5.0, 256),
    "render-summary": (5.0, 256),
    "render-summary-json": (5.0, 256),
    "render-perfetto": (5.0, 256),  # issue 12
    "render-html": (5.0, 256),
}
RECORD_MAX_SLOWDOWN = 1.05
STARTUP_MAX_RATIO = 1.5
LOOP_PROCESSES = 2000
LOOP_LABELS = {"bare-pinned": "bare, pinned to one CPU", "record": "under proctrace record",
               "strace": "under strace -f"}
BURST_PROCESSES = 20000
BURST_PARALLEL = 4

# The loop times itself, so that `record`'s own start-up (bpftrace compiling
# and attaching its probes) is not counted as per-process overhead: $1 is the
# file it writes its duration (ns) to.
LOOP_SCRIPT = ('s=$(date +%%s%%N); i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done; '
               'e=$(date +%%s%%N); echo $((e-s)) > "$1"' % LOOP_PROCESSES)
BURST_SCRIPT = f"seq {BURST_PROCESSES} | xargs -P{BURST_PARALLEL} -n1 /bin/true"

READ_LOOP = "import sys\nwith open(sys.argv[1], 'rb') as f:\n    for line in f:\n        pass\n"


# Time targets hold at 1M events; at smaller sizes the interpreter's start-up
# (~50 ms) is a large part of the time, so there they are only indicative and
# reported in lower case ("pass"/"fail"), outside the PASS/FAIL count.
TARGET_SIZE = 1_000_000


def _status(ok: bool, *, authoritative: bool = True) -> str:
    status = "PASS" if ok else "FAIL"
    return status if authoritative else status.lower()


class Row(dict):
    """One line of the table: id, measure, text, target, status, value (+ raw numbers)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    # Bytecode is cached as it is for an installed package (start-up would
    # otherwise include compiling proctrace), but under cache/, not proctrace/.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(CACHE_DIR, "pycache")
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = 1
    if text.endswith("k"):
        scale, text = 1_000, text[:-1]
    elif text.endswith("m"):
        scale, text = 1_000_000, text[:-1]
    return int(float(text) * scale)


def size_name(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def warm(path: str) -> None:
    """Read a file once so every timed run finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


# -- the pipeline stages -------------------------------------------------------------------------

def stage_commands(py: str, arrival: str, ordered: str, site: bool = False) -> List[Tuple[str, str, List[str], str]]:
    """(id, label, argv, input) for every command timed on one size, baselines first.

    Python runs with -S unless `site`: this machine's site-packages holds .pth
    hooks (a sandbox's certifi import) that cost every start ~45 ms, which is
    neither proctrace's nor a distro interpreter's.  The start-up rows show it.
    """
    gnu = ["sort", "-s", "-t:", "-k3,3n"]
    python = [py] if site else [py, "-S"]
    commands = [
        ("gnu-sort-arrival", "GNU sort, arrival order", gnu + [arrival], arrival),
        ("gnu-sort-sorted", "GNU sort, already sorted", gnu + [ordered], ordered),
        ("python-read-loop", "bare Python read loop", [*python, "-c", READ_LOOP, arrival], arrival),
        ("sort-arrival", "proctrace sort, arrival order", [*python, "-m", "proctrace", "sort", "-i", arrival, "-o", os.devnull], arrival),
        ("sort-sorted", "proctrace sort, already sorted", [*python, "-m", "proctrace", "sort", "-i", ordered, "-o", os.devnull], ordered),
        ("render-multiplexed", "render -f multiplexed", [*python, "-m", "proctrace", "render", "-f", "multiplexed", "-i", arrival, "-o", os.devnull], arrival),
        ("render-by-process", "render -f by-process", [*python, "-m", "proctrace", "render", "-f", "by-process", "-i", arrival, "-o", os.devnull], arrival),
        ("render-mermaid", "render -f mermaid", [*python, "-m", "proctrace", "render", "-f", "mermaid", "-i", arrival, "-o", os.devnull], arrival),
        ("render-tree", "render -f tree", [*python, "-m", "proctrace", "render", "-f", "tree", "-i", arrival, "-o", os.devnull], arrival),
        ("render-summary", "render -f summary", [*python, "-m", "proctrace", "render", "-f", "summary", "-i", arrival, "-o", os.devnull], arrival),
        ("render-summary-json", "render -f summary-json", [*python, "-m", "proctrace", "render", "-f", "summary-json", "-i", arrival, "-o", os.devnull], arrival),
        ("render-perfetto", "render -f perfetto", [*python, "-m", "proctrace", "render", "-f", "perfetto", "-i", arrival, "-o", os.devnull], arrival),
        ("render-html", "render -f html", [*python, "-m", "proctrace", "render", "-f", "html", "-i", arrival, "-o", os.devnull], arrival),
    ]
    return commands


def check_output(cid: str, out_path: str, ordered: str, events: int) -> Optional[str]:
    """Why the (untimed) warm-up run's output is wrong, or None: speed must not come from wrong output."""
    if cid in ("sort-arrival", "sort-sorted", "render-multiplexed"):
        # timestamps are distinct, so the one right answer is the sorted file itself
        if os.path.getsize(out_path) != os.path.getsize(ordered) or not _same_bytes(out_path, ordered):
            return "output differs from the sorted recording"
    elif cid == "render-by-process":
        with open(out_path, "rb") as f:
            lines = sum(1 for line in f if line.strip())
        if lines != events:
            return f"{lines} event lines written, {events} expected"
    elif cid == "render-mermaid":
        with open(out_path, "rb") as f:
            text = f.read()
        if not text.startswith(b"%%{init: ") or b"\ngantt\n" not in text[:100]:
            return "output is not a gantt chart"
        if len(text) > 50_000 or b" processes under " not in text.split(b"\n", 3)[2]:
            return f"the chart is {len(text)} characters, with no processes hidden to fit Mermaid's 50,000"
    elif cid == "render-tree":
        # a line per process (every one exec's once) and the header
        with open(out_path, "rb") as f:
            lines = sum(1 for _ in f)
        if lines != events // 3 + 1:
            return f"{lines} lines written, {events // 3 + 1} expected"
    elif cid == "render-summary":
        with open(out_path, "rb") as f:
            if b"critical path: " not in f.read():
                return "no critical path in the summary"
    elif cid == "render-summary-json":
        import json
        with open(out_path, "rb") as f:
            report = json.load(f)
        if sum(segment["duration_ns"] for segment in report["critical_path"]) != report["wall_ns"] \
                or report["processes"] != events // 3:
            return "the critical path does not tile the wall time, or processes are missing"
    elif cid in ("render-perfetto", "render-html"):
        head, tail = (b'{"otherData":', b"]}\n") if cid == "render-perfetto" else (b"<!DOCTYPE html>", b"</html>\n")
        with open(out_path, "rb") as f:
            start = f.read(len(head))
            f.seek(max(0, os.path.getsize(out_path) - len(tail)))
            if start != head or f.read() != tail:
                return f"output is not a whole {'trace' if cid == 'render-perfetto' else 'page'}"
        if events // 3 and os.path.getsize(out_path) < 100 * (events // 3):
            return "output too small for one entry a process"
    return None


def _same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 22), fb.read(1 << 22)
            if x != y:
                return False
            if not x:
                return True


def bench_size(n: int, runs: int, *, py: str, check: bool, site: bool = False,
               only: Optional[List[str]] = None) -> List[Row]:
    arrival, ordered, events = ensure_recordings(CACHE_DIR, n, log=log)
    warm(arrival)
    warm(ordered)
    env = child_env()
    env["LC_ALL"] = "C"
    commands = stage_commands(py, arrival, ordered, site)
    if only:
        commands = [command for command in commands if command[0] in only or command[0].startswith("gnu-sort")]
    samples: Dict[str, List[Sample]] = {cid: [] for cid, *_ in commands}
    errors: Dict[str, str] = {}
    tmp_dir = tempfile.mkdtemp(prefix="check-", dir=CACHE_DIR)
    try:
        # warm-up run (untimed), writing a real file whose content is checked
        log(f"[{size_name(n)}] warm-up and output check")
        for cid, label, argv, _ in commands:
            out = os.path.join(tmp_dir, cid)
            argv = [out if a == os.devnull else a for a in argv]
            write_to = None if out in argv else out
            sample = run_child(argv, env=env, cwd=REPO, stdout_path=write_to)
            if sample.status != 0:
                errors[cid] = f"exit {sample.status}: {sample.stderr_tail.splitlines()[-1] if sample.stderr_tail else ''}"
            elif check:
                problem = check_output(cid, out, ordered, events)
                if problem:
                    errors[cid] = f"wrong output: {problem}"
            if os.path.exists(out):
                os.unlink(out)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    # timed runs, interleaved so that drift on a shared machine hits every command alike
    for r in range(runs):
        log(f"[{size_name(n)}] run {r + 1}/{runs}")
        for cid, label, argv, _ in commands:
            if cid in errors:
                continue
            sample = run_child(argv, env=env, cwd=REPO)
            if sample.status != 0:
                errors[cid] = f"exit {sample.status}: {sample.stderr_tail}"
                continue
            samples[cid].append(sample)
    return stage_rows(n, events, commands, samples, errors)


def stage_rows(n: int, events: int, commands, samples: Dict[str, List[Sample]],
               errors: Dict[str, str]) -> List[Row]:
    rows: List[Row] = []
    size = size_name(n)

    def summary(cid: str) -> Optional[Tuple[float, float]]:
        if cid in errors or not samples[cid]:
            return None
        return median([s.seconds for s in samples[cid]]), max(s.maxrss_kib for s in samples[cid])

    for cid, label, argv, source in commands:
        measure = f"{label} @{size}"
        got = summary(cid)
        if got is None:
            rows.append(Row(id=f"{cid}@{size}", measure=measure, text=f"ERROR: {errors.get(cid, 'no runs')}",
                            target="runs", status="FAIL" if cid in TARGETS else "ERROR", value=None))
            continue
        seconds, rss = got
        runs = [round(s.seconds, 4) for s in samples[cid]]
        base_id = "gnu-sort-sorted" if source.endswith("-sorted.jsonl") else "gnu-sort-arrival"
        base = summary(base_id)
        if cid not in TARGETS:
            text = f"{fmt_seconds(seconds)}, {fmt_rate(events / seconds)}, {fmt_mib(rss)}"
            if base and cid != base_id:
                text += f" ({seconds / base[0]:.2f}× GNU sort)"
            rows.append(Row(id=f"{cid}@{size}", measure=measure, text=text, target="baseline",
                            status="info", value=seconds, seconds=seconds, maxrss_kib=rss, runs=runs,
                            events=events))
            continue
        max_ratio, max_mib = TARGETS[cid]
        if base is None:
            rows.append(Row(id=f"{cid}@{size}:time", measure=f"{measure}: time", target=f"≤ {max_ratio}× GNU sort",
                            text=f"{fmt_seconds(seconds)} (no GNU sort baseline)", status="ERROR", value=None))
        else:
            ratio = seconds / base[0]
            rows.append(Row(id=f"{cid}@{size}:time", measure=f"{measure}: time",
                            text=f"{ratio:.2f}× GNU sort ({fmt_seconds(seconds)}, {fmt_rate(events / seconds)})",
                            target=f"≤ {max_ratio}× GNU sort" + ("" if n == TARGET_SIZE else " (at 1M)"),
                            status=_status(ratio <= max_ratio, authoritative=n == TARGET_SIZE),
                            value=round(ratio, 3), seconds=seconds, base_seconds=base[0], runs=runs,
                            events=events))
        rows.append(Row(id=f"{cid}@{size}:rss", measure=f"{measure}: peak RSS", text=fmt_mib(rss),
                        target=f"≤ {max_mib} MiB", status="PASS" if rss <= max_mib * MIB else "FAIL",
                        value=round(rss / MIB, 1), maxrss_kib=rss))
    return rows


# -- record ----------------------------------------------------------------------------------------

def probe_record(py: str) -> Optional[str]:
    """None when `proctrace record` works here, else the reason it does not."""
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "probe.jsonl")
        sample = run_child([py, "-m", "proctrace", "record", "-o", out, "--", "/bin/true"],
                           env=child_env(), cwd=REPO, timeout=120)
        if sample.timed_out:
            return "`proctrace record -- /bin/true` did not finish within 120 s"
        last = sample.stderr_tail.splitlines()[-1] if sample.stderr_tail else ""
        if sample.status != 0:
            return f"`proctrace record -- /bin/true` exited {sample.status}: {last}".rstrip(": ")
        try:
            with open(out, "rb") as f:
                data = f.read()
        except OSError as err:
            return f"no recording written: {err}"
        if b'"/bin/true"' not in data:
            return "the recording of /bin/true has no Exec of /bin/true" + (f" ({last})" if last else "")
    return None


def bench_record(py: str, runs: int, site: bool = False) -> List[Row]:
    reason = probe_record(py)
    if reason is not None:
        log(f"record: not available ({reason})")
        return [Row(id="record", measure="record", text=f"record: not available ({reason})",
                    target="runs", status="N/A", value=None)]
    python = [py] if site else [py, "-S"]   # as the stage rows run it (see --site)
    rows = [Row(row) for row in bench_latency(python, max(runs, 5), env=child_env(), cwd=REPO, log=log)]
    rows += bench_record_loop(py, runs)
    rows += bench_record_burst(py)
    return rows


def bench_record_loop(py: str, runs: int) -> List[Row]:
    env = child_env()
    strace = shutil.which("strace")
    modes = [("bare", [])]
    # The unpinned bare loop is 0-5% slower than pinned, by how the scheduler
    # moves it between CPUs that day: the pinned one tells which state the
    # baseline is in (see README.md, "The loop's baseline moves").
    taskset, cpus = shutil.which("taskset"), os.sched_getaffinity(0)
    if taskset and len(cpus) > 1:
        modes.append(("bare-pinned", [taskset, "-c", str(min(cpus))]))
    modes.append(("record", [py, "-m", "proctrace", "record", "-o", os.devnull, "--"]))
    if strace:
        modes.append(("strace", [strace, "-f", "-o", os.devnull]))
    inner: Dict[str, List[float]] = {m: [] for m, _ in modes}
    outer: Dict[str, List[float]] = {m: [] for m, _ in modes}
    errors: Dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stamp = os.path.join(tmp, "loop-ns")
        for r in range(runs + 1):   # the first round is a warm-up
            log(f"[record] loop of {LOOP_PROCESSES} /bin/true, round {r}/{runs}")
            for mode, prefix in modes:
                if mode in errors:
                    continue
                if os.path.exists(stamp):
                    os.unlink(stamp)
                sample = run_child(prefix + ["sh", "-c", LOOP_SCRIPT, "sh", stamp], env=env, cwd=REPO, timeout=600)
                try:
                    with open(stamp) as f:
                        ns = int(f.read().strip())
                except (OSError, ValueError):
                    ns = None
                if sample.status != 0 or ns is None:
                    errors[mode] = f"exit {sample.status}: {sample.stderr_tail.splitlines()[-1] if sample.stderr_tail else 'no timing written'}"
                    continue
                if r:
                    inner[mode].append(ns / 1e9)
                    outer[mode].append(sample.seconds)
    rows: List[Row] = []
    if "bare" in errors or not inner["bare"]:
        return [Row(id="record-loop", measure="record loop", text=f"ERROR: bare loop: {errors.get('bare')}",
                    target="", status="ERROR", value=None)]
    bare = median(inner["bare"])
    rows.append(Row(id="loop-bare", measure=f"{LOOP_PROCESSES} × /bin/true, bare",
                    text=f"{fmt_seconds(bare)} ({bare / LOOP_PROCESSES * 1e6:.0f} µs/process, runs {_spread(inner['bare'])})",
                    target="baseline",
                    status="info", value=bare, runs=[round(x, 4) for x in inner["bare"]]))
    for mode in [m for m, _ in modes if m != "bare"]:
        label = LOOP_LABELS[mode]
        if mode in errors or not inner[mode]:
            rows.append(Row(id=f"loop-{mode}", measure=f"{LOOP_PROCESSES} × /bin/true, {label}",
                            text=f"ERROR: {errors.get(mode)}", target="≤ 1.05× bare" if mode == "record" else "",
                            status="FAIL" if mode == "record" else "ERROR", value=None))
            continue
        t = median(inner[mode])
        ratio = t / bare
        # Each round runs bare and traced back to back, so the ratio within a
        # round is less exposed to slow drift on a shared machine: shown too.
        paired = median([x / y for x, y in zip(inner[mode], inner["bare"])])
        row = Row(id=f"loop-{mode}", measure=f"{LOOP_PROCESSES} × /bin/true, {label}",
                  text=f"{ratio:.3f}× bare ({fmt_seconds(t)}, runs {_spread(inner[mode])}; "
                       f"per-round ratio {paired:.3f}; whole command {fmt_seconds(median(outer[mode]))})",
                  value=round(ratio, 4), seconds=t, paired_ratio=round(paired, 4),
                  runs=[round(x, 4) for x in inner[mode]], whole_runs=[round(x, 4) for x in outer[mode]])
        if mode == "record":
            row.update(target=f"≤ {RECORD_MAX_SLOWDOWN:.2f}× bare",
                       status="PASS" if ratio <= RECORD_MAX_SLOWDOWN else "FAIL")
        else:
            row.update(target="comparison", status="info")
        rows.append(row)
    if not strace:
        rows.append(Row(id="loop-strace", measure=f"{LOOP_PROCESSES} × /bin/true, under strace -f",
                        text="strace is not installed (apt-get install strace)", target="comparison",
                        status="info", value=None))
    return rows


def _spread(values: List[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f} s"


def bench_record_burst(py: str) -> List[Row]:
    env = child_env()
    log(f"[record] burst of {BURST_PROCESSES} processes, {BURST_PARALLEL} at a time")
    bare = run_child(["sh", "-c", BURST_SCRIPT], env=env, cwd=REPO, timeout=600)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "burst.jsonl")
        sample = run_child([py, "-m", "proctrace", "record", "-o", out, "--", "sh", "-c", BURST_SCRIPT],
                           env=env, cwd=REPO, timeout=900)
        if sample.status != 0 or not os.path.exists(out):
            return [Row(id="burst", measure=f"burst of {BURST_PROCESSES}: recorded",
                        text=f"ERROR: exit {sample.status}: {sample.stderr_tail}", target="complete, 0 Lost",
                        status="FAIL", value=None)]
        execs, forks, lost, bad = count_burst(out)
    complete = execs == BURST_PROCESSES and lost == 0
    text = (f"{execs}/{BURST_PROCESSES} execs of /bin/true, {forks} forks, {lost} lost"
            + (f", {bad} unreadable lines" if bad else "")
            + f" ({fmt_seconds(sample.seconds)} recorded vs {fmt_seconds(bare.seconds)} bare)")
    return [Row(id="burst", measure=f"burst of {BURST_PROCESSES} (xargs -P{BURST_PARALLEL}) under record",
                text=text, target=f"{BURST_PROCESSES}/{BURST_PROCESSES}, 0 Lost",
                status="PASS" if complete and not bad else "FAIL", value=execs, forks=forks, lost=lost,
                seconds=sample.seconds, bare_seconds=bare.seconds)]


def count_burst(path: str) -> Tuple[int, int, int, int]:
    """(Execs of /bin/true, Forks, events Lost, unreadable lines) in a recording."""
    execs = forks = lost = bad = 0
    with open(path, "rb") as f:
        for line in f:
            head = line[:12]
            if b'"Fork"' in head:
                forks += 1
            elif b'"Exec"' in head or b'"Lost"' in head:
                try:
                    (kind, body), = json.loads(line).items()
                except ValueError:
                    bad += 1
                    continue
                if kind == "Lost":
                    lost += body.get("count", 0)
                elif (body.get("cmdline") or [""])[0].endswith("/bin/true") or \
                        (body.get("filename") or "").endswith("/bin/true"):
                    execs += 1
    return execs, forks, lost, bad


# -- start-up --------------------------------------------------------------------------------------

def bench_startup(py: str, runs: int) -> List[Row]:
    """`proctrace --version` against `python3 -c pass`, as is and with -S.

    With -S neither runs site.py, so .pth hooks of the environment (some
    sandboxes import whole packages from one, adding tens of ms to every
    start) do not dilute the ratio: that pair carries the target.
    """
    env = child_env()
    # what the installed `proctrace` script runs (pyproject's entry point and
    # `make install` both write this), rather than `-m proctrace`, whose runpy
    # start-up (~6 ms) the installed command does not pay
    script = "import sys; from proctrace.cli import main; sys.exit(main())"
    commands = [("python", [py, "-c", "pass"]), ("proctrace", [py, "-c", script, "--version"]),
                ("python-S", [py, "-S", "-c", "pass"]), ("proctrace-S", [py, "-S", "-c", script, "--version"])]
    times: Dict[str, List[float]] = {name: [] for name, _ in commands}
    log(f"[start-up] {runs} runs")
    for r in range(runs + 2):   # two warm-up rounds
        for name, argv in commands:
            sample = run_child(argv, env=env, cwd=REPO)
            if sample.status != 0:
                return [Row(id="startup", measure="proctrace --version start-up",
                            text=f"ERROR: {' '.join(argv[1:])}: exit {sample.status}: {sample.stderr_tail}",
                            target=f"≤ {STARTUP_MAX_RATIO}× python3 -c pass", status="FAIL", value=None)]
            if r >= 2:
                times[name].append(sample.seconds)
    rows: List[Row] = []
    for suffix, flag, authoritative in (("", "", False), ("-S", " -S", True)):
        base, ours = median(times["python" + suffix]), median(times["proctrace" + suffix])
        ratio = ours / base
        target = f"≤ {STARTUP_MAX_RATIO}× python3{flag} -c pass"
        rows.append(Row(id=f"startup-python{suffix}", measure=f"python3{flag} -c pass", text=fmt_seconds(base),
                        target="baseline", status="info", value=base,
                        runs=[round(x, 4) for x in times["python" + suffix]]))
        rows.append(Row(id=f"startup{suffix}", measure=f"proctrace --version (entry point{flag})",
                        text=f"{ratio:.2f}× python3{flag} -c pass ({fmt_seconds(ours)}, "
                             f"+{(ours - base) * 1000:.0f} ms)",
                        target=target if authoritative else "info (site hooks included)",
                        status=("PASS" if ratio <= STARTUP_MAX_RATIO else "FAIL") if authoritative else "info",
                        value=round(ratio, 3), seconds=ours, runs=[round(x, 4) for x in times["proctrace" + suffix]]))
    return rows


# -- report ----------------------------------------------------------------------------------------

def compare_text(row: Row, old: Optional[dict]) -> str:
    if old is None:
        return "(new)"
    if row.get("value") is None or old.get("value") is None:
        return f"was: {old.get('text', '?')}"
    change = (row["value"] - old["value"]) / old["value"] * 100 if old["value"] else 0.0
    return f"was {old.get('text', '?')} ({change:+.0f}%)"


def print_table(rows: List[Row], old_rows: Optional[Dict[str, dict]], out=sys.stdout) -> None:
    headers = ["measure", "value", "target", "status"] + (["vs --compare"] if old_rows is not None else [])
    table = []
    for row in rows:
        cells = [row["measure"], row["text"], row["target"], row["status"]]
        if old_rows is not None:
            cells.append(compare_text(row, old_rows.get(row["id"])))
        table.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in table)) if table else len(h) for i, h in enumerate(headers)]
    widths = [min(w, 90) for w in widths]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    print(line(headers), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for cells in table:
        print(line(cells), file=out)
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = f"{counts.get('PASS', 0)} PASS, {counts.get('FAIL', 0)} FAIL"
    if counts.get("N/A"):
        summary += f", {counts['N/A']} N/A"
    if counts.get("pass") or counts.get("fail"):
        summary += (f" (indicative, below 1M events: {counts.get('pass', 0)} pass, "
                    f"{counts.get('fail', 0)} fail)")
    print("\n" + summary, file=out)


def _version(argv: List[str]) -> str:
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20).stdout
        return out.decode("utf-8", "replace").strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "not available"


def source_digest() -> str:
    """A digest of proctrace/'s Python sources, committed or not: which code was measured."""
    digest = hashlib.sha1()
    root = os.path.join(REPO, "proctrace")
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".py", ".bt")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, REPO).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def machine_info(py: str, args: argparse.Namespace) -> dict:
    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  timeout=20).stdout.decode().strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "kernel": platform.release(), "cpu": cpu, "cpus": os.cpu_count(),
        "python": _version([py, "--version"]), "gnu_sort": _version(["sort", "--version"]),
        "bpftrace": _version(["bpftrace", "--version"]), "strace": _version(["strace", "-V"]),
        "commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "proctrace")),
        "source_digest": source_digest(),
        "argv": sys.argv[1:], "sizes": args.sizes,
    }


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 100k events only, 3 runs of everything")
    parser.add_argument("--sizes", metavar="N[,N...]",
                        help="recording sizes in events, e.g. 100k,1M (default: 100k,1M; --quick: 100k)")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="timed runs per command (default: 5; --quick: 3)")
    parser.add_argument("--record-runs", type=int, metavar="N",
                        help="runs of the /bin/true loop per mode (default: 7; --quick: 3)")
    parser.add_argument("--skip-record", action="store_true", help="do not measure `proctrace record`")
    parser.add_argument("--skip-stages", action="store_true", help="do not measure sort and render")
    parser.add_argument("--stages", metavar="ID[,ID...]",
                        help="time only these stage rows (such as render-tree,render-summary) and GNU sort")
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="do not check the warm-up runs' output")
    parser.add_argument("--compare", metavar="OLD.json", help="show each measure next to an earlier run's")
    parser.add_argument("--output", metavar="PATH", default=RESULTS,
                        help="where to write the JSON results (default: benchmarks/results/latest.json)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run proctrace with")
    parser.add_argument("--site", action="store_true",
                        help="run the stage commands with the interpreter's site hooks (default: python3 -S)")
    args = parser.parse_args(argv)
    if args.sizes:
        try:
            args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--sizes: {args.sizes!r} is not a list of sizes such as 100k,1M")
    else:
        args.sizes = [100_000] if args.quick else [100_000, 1_000_000]
    if any(n < 3 for n in args.sizes):
        parser.error("--sizes: every size must be at least 3 events")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    old_rows = None
    if args.compare:
        try:
            with open(args.compare) as f:
                old_rows = {row["id"]: row for row in json.load(f)["rows"]}
        except (OSError, ValueError, KeyError) as err:
            print(f"run.py: error: --compare {args.compare}: {err}", file=sys.stderr)
            return 2
    py = args.python
    digest_at_start = source_digest()
    rows: List[Row] = []
    if not args.skip_stages:
        for n in args.sizes:
            runs = args.runs or (3 if args.quick else 5)  # this machine drifts: more runs, steadier medians
            rows += bench_size(n, runs, py=py, check=args.check, site=args.site,
                               only=args.stages.split(",") if args.stages else None)
    if args.skip_record:
        rows.append(Row(id="record", measure="record", text="skipped (--skip-record)", target="",
                        status="skip", value=None))
    else:
        rows += bench_record(py, args.record_runs or (3 if args.quick else 7), site=args.site)
    rows += bench_startup(py, 10 if args.quick else 20)
    meta = machine_info(py, args)
    if meta["source_digest"] != digest_at_start:
        meta["source_changed_during_run"] = True
        log("warning: proctrace/ changed while the benchmarks ran: the rows measure different code")
    print(f"\nproctrace {meta['commit']}{' + uncommitted changes' if meta['dirty'] else ''} "
          f"(sources {meta['source_digest']}), {meta['python']}, {meta['cpus']} CPUs, {meta['date']}")
    if not args.skip_stages:
        print(f"stage commands: {'python3' if args.site else 'python3 -S'} -m proctrace ... (see --site)")
    print_table(rows, old_rows)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"results: {os.path.relpath(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
