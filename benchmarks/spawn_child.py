"""Run one command and write `seconds maxrss_kib status` to a file: the benchmarks' stopwatch.

    python3 -S -I spawn_child.py RESULT_FILE CMD [ARG...]

A separate, small process on purpose: Linux counts in a child's peak RSS
(ru_maxrss) the memory of the process it was forked from, as it was just
before exec, so spawning from the benchmark driver itself (tens of MiB,
more after generating data) would put a floor under every measurement.
This stopwatch is ~8 MiB, below anything measured; its own start-up is not
timed.
"""

import os
import sys
import time


def main() -> int:
    result, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(result, "w") as f:
        f.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
