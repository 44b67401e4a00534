"""Timing whole processes: wall time and the child's own peak RSS, from os.wait4 (in spawn_child.py).

    result = run_child(["sort", "file"])  ->  Sample(seconds=0.63, maxrss_kib=189916, status=0, ...)
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

__all__ = ["Sample", "run_child", "median", "fmt_seconds", "fmt_rate", "fmt_mib"]


@dataclass
class Sample:
    seconds: float
    maxrss_kib: int
    status: int            # exit code, or -N for a signal, as subprocess reports it
    stderr_tail: str       # the last lines of its standard error
    timed_out: bool = False


SPAWN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spawn_child.py")


def run_child(argv: Sequence[str], *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
              stdout_path: Optional[str] = None, timeout: float = 900.0) -> Sample:
    """Run argv to completion; standard output goes to /dev/null (or stdout_path).

    The timing and peak RSS come from spawn_child.py, a small stopwatch
    process that spawns argv and reads its rusage from os.wait4.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as result, \
            open(stdout_path or os.devnull, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-S", "-I", SPAWN, result.name, *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd, start_new_session=True)
        killed = []

        def kill() -> None:
            killed.append(True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace").strip().splitlines()[-3:]
        fields = result.read().split()
    if proc.returncode != 0 or len(fields) != 3:
        # the stopwatch itself failed (command not found, killed on timeout)
        return Sample(float("nan"), 0, proc.returncode or 127, "\n".join(tail), bool(killed))
    return Sample(float(fields[0]), int(fields[1]), int(fields[2]), "\n".join(tail), bool(killed))


def median(values: List[float]) -> float:
    return statistics.median(values)


def fmt_seconds(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def fmt_rate(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M ev/s"
    return f"{per_second / 1e3:.0f}k ev/s"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"
