"""Shared set-up of the real-bpftrace tests: when to skip, how to run `proctrace record`.

Tests marked `bpftrace` need root (or password-less sudo) and bpftrace.
Without them they skip, saying why -- except under CI=true, where CI
installs bpftrace and runs as root, so a missing one is a failure.
"""

import os
import shutil
import subprocess
import time

import pytest


def _missing() -> str:
    """Why the bpftrace tests cannot run here ('' when they can)."""
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed (apt-get install bpftrace)"
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.call([sudo, "-n", "true"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL) != 0:
            return "needs root or password-less sudo to run bpftrace"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return ""


@pytest.fixture(autouse=True)
def _needs_bpftrace(request):
    if request.node.get_closest_marker("bpftrace") is None:
        return
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the bpftrace tests, but {reason}")
        pytest.skip(reason)


@pytest.fixture
def host_loop():
    """An unrelated loop of short processes on the host, for the length of a test."""
    loop = subprocess.Popen(["sh", "-c", "while :; do /bin/true; /bin/true; sleep 0.002; done"],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.05)
    yield loop
    os.killpg(loop.pid, 9)
    loop.wait()
