"""The recording of a random process tree matches what each process wrote about itself.

tests/workloads/random_tree.py builds the tree (forks, execs, posix_spawn,
threads, setsid/setpgid, exit codes, signals, tricky and big argv) and every
process writes down its own truth; the recording must agree field by field,
and contain nothing else, while an unrelated loop of processes runs on the host.
"""

import sys
from collections import defaultdict

import pytest

from proctrace.events import Fork, Lost
from recordkit import WORKLOADS, load_truth, run_record

pytestmark = pytest.mark.bpftrace

SEEDS = [1, 2, 3]


def compare(truth: dict, events: list):
    """(fields checked, fields matched, descriptions of the mismatches)."""
    by_kind = defaultdict(lambda: defaultdict(list))
    seen_pids = set()
    for event in events:
        if isinstance(event, Fork):
            by_kind["fork"][event.child_pid].append(event)
            seen_pids.add(event.child_pid)
        elif isinstance(event, Lost):
            by_kind["lost"][0].append(event)
        else:
            by_kind[type(event).__name__][event.pid].append(event)
            seen_pids.add(event.pid)
    checked = matched = 0
    problems = []

    def check(pid, what, got, expected):
        nonlocal checked, matched
        checked += 1
        if got == expected:
            matched += 1
        else:
            problems.append(f"pid {pid} {what}: recorded {got!r}, truth {expected!r}")

    check(0, "lost events", by_kind["lost"][0], [])
    check(0, "processes not in the tree", sorted(seen_pids - set(truth)), [])
    for pid, entry in sorted(truth.items()):
        forks = by_kind["fork"][pid]
        check(pid, "number of Fork events", len(forks), 1)
        if forks:
            check(pid, "Fork.parent_pid", forks[0].parent_pid, entry["ppid"])
        argv = [bytes.fromhex(arg) for arg in entry["argv_hex"]]
        execs = by_kind["Exec"][pid]
        if entry["how"] == "fork":
            check(pid, "number of Exec events (forked, no exec)", len(execs), 0)
        else:
            check(pid, "number of Exec events", len(execs), 1)
            if execs:
                exec_ = execs[-1]
                check(pid, "Exec.cmdline", [arg.encode("utf-8", "surrogateescape") for arg in exec_.cmdline], argv)
                check(pid, "Exec.cmdline_truncated", exec_.cmdline_truncated, False)
                check(pid, "Exec.filename", exec_.filename, argv[0].decode())
                check(pid, "Exec.ppid", exec_.ppid, entry["ppid"])
                check(pid, "Exec.pgid", exec_.pgid, entry["start_pgid"])
                check(pid, "Exec.sid", exec_.sid, entry["start_sid"])
        exits = by_kind["Exit"][pid]
        check(pid, "number of Exit events", len(exits), 1)
        if exits:
            exit_ = exits[0]
            kind, value = entry["end"]
            check(pid, "Exit.exit_code", exit_.exit_code, value if kind == "exit" else None)
            check(pid, "Exit.signal", exit_.signal, value if kind == "signal" else None)
            check(pid, "Exit.ppid", exit_.ppid, entry["ppid"])
            check(pid, "Exit.pgid", exit_.pgid, entry["end_pgid"])
            check(pid, "Exit.sid", exit_.sid, entry["end_sid"])
        setsids = by_kind["SetSID"][pid]
        setpgids = by_kind["SetPGID"][pid]
        check(pid, "number of SetSID events", len(setsids), int(entry["action"] == "setsid"))
        check(pid, "number of SetPGID events", len(setpgids), int(entry["action"] == "setpgid"))
        for event in setsids:
            check(pid, "SetSID.sid", event.sid, pid)
            check(pid, "SetSID.pgid", event.pgid, pid)
            check(pid, "SetSID.ppid", event.ppid, entry["ppid"])
        for event in setpgids:
            check(pid, "SetPGID.pgid", event.pgid, pid)
            check(pid, "SetPGID.ppid", event.ppid, entry["ppid"])
    return checked, matched, problems


@pytest.mark.parametrize("seed", SEEDS)
def test_recording_matches_ground_truth(tmp_path, host_loop, seed):
    outdir = tmp_path / "truth"
    outdir.mkdir()
    command = [sys.executable, str(WORKLOADS / "random_tree.py"), "root", str(outdir), str(seed)]
    result, events = run_record(tmp_path, command)
    assert result.returncode == 0, result.stderr
    truth = load_truth(outdir)
    assert len(truth) >= 4
    assert any(len(entry["argv_hex"]) >= 60 for entry in truth.values()), "no tricky node"
    assert any(sum(len(a) // 2 + 1 for a in entry["argv_hex"]) > 32768 for entry in truth.values())
    assert any(entry["end"][0] == "signal" for entry in truth.values())
    assert any(entry["how"] == "fork" for entry in truth.values())
    checked, matched, problems = compare(truth, events)
    print(f"seed {seed}: {len(truth)} processes, {matched}/{checked} fields match")
    assert problems == []
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events), "not in time order"
