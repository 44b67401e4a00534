"""Tracer.wait: woken when bpftrace exits (a pidfd), never waiting on a pid reaped before."""

import os
import subprocess
import sys

import pytest

from proctrace.record.launch import Tracer


def _child(seconds):
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds}); raise SystemExit(3)"])


def test_wait_gives_the_exit_status_once_the_process_has_ended():
    process = _child(0.1)
    assert Tracer(process).wait(timeout=30) == 3
    assert process.returncode == 3


def test_wait_gives_up_after_the_timeout():
    process = _child(30)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            Tracer(process).wait(timeout=0.05)
        assert process.returncode is None
    finally:
        process.kill()
        process.wait()


def test_a_process_reaped_before_is_not_looked_up_again(monkeypatch):
    # its pid may belong to another process by now: a pidfd would wait for that one
    process = _child(0)
    process.wait()

    def no_lookup(pid):
        raise AssertionError(f"pid {pid} looked up again")

    monkeypatch.setattr(os, "pidfd_open", no_lookup)
    assert Tracer(process).wait(timeout=1) == 3
