"""Errors a user of `record` will hit: one clear line with a remedy, the right exit status.

Some run the real command line against a fake bpftrace (fake_bpftrace.py);
the kernel checks run in process with the paths they look at replaced.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from proctrace.events import Fork, Lost, TracerError
from proctrace.record import launch
from recordkit import ROOT, proctrace_env, record_argv, run_record

FAKE = Path(__file__).resolve().parent / "fake_bpftrace.py"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs bpftrace directly only as root")


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_bpftrace_missing(tmp_path):
    result, _ = run_record(tmp_path, ["true"], "-b", "/nonexistent/bpftrace")
    assert result.returncode == 3
    line = _one_error_line(result.stderr)
    assert line.startswith("proctrace: error: bpftrace not found")
    assert "apt-get install bpftrace" in line


def test_command_not_found_exits_127(tmp_path):
    result, events = run_record(tmp_path, ["no-such-command-for-proctrace"])
    assert result.returncode == 127
    assert _one_error_line(result.stderr) == "proctrace: no-such-command-for-proctrace: command not found"
    assert events == []


def test_unwritable_output_fails_before_anything_starts(tmp_path):
    marker = tmp_path / "ran"
    result = subprocess.run(record_argv("-o", tmp_path / "missing" / "out.jsonl", "--", "touch", marker),
                            cwd=ROOT, env=proctrace_env(), stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 1
    assert _one_error_line(result.stderr.decode()).startswith("proctrace: error:")
    assert not marker.exists()


def test_no_such_pid(tmp_path):
    result = subprocess.run(record_argv("-o", tmp_path / "out", "-p", "999999999"), cwd=ROOT,
                            env=proctrace_env(), stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 1
    assert "no running process has pid 999999999" in result.stderr.decode()


@needs_root
def test_bpftrace_rejecting_the_script_shows_its_message(tmp_path):
    marker = tmp_path / "ran"
    result, _ = run_record(tmp_path, ["touch", marker], "-b", FAKE,
                           env=proctrace_env(FAKE_BPFTRACE_MODE="reject"))
    assert result.returncode == 3
    line = _one_error_line(result.stderr)
    assert line == ("proctrace: error: bpftrace rejected the script: "
                    "stdin:3:5-9: ERROR: Unknown struct/union: 'task_strukt'")
    assert not marker.exists()  # the command never ran untraced


@needs_root
def test_lost_events_are_recorded_and_reported(tmp_path):
    result, events = run_record(tmp_path, ["true"], "-b", FAKE, env=proctrace_env(FAKE_BPFTRACE_MODE="lost"))
    assert result.returncode == 0
    assert any(isinstance(e, Lost) and e.count == 5 for e in events)
    assert result.stderr == ("proctrace: warning: bpftrace is losing events (its buffers overflowed): "
                             "the recording will be incomplete\n"
                             "proctrace: warning: bpftrace lost 5 events: the recording is incomplete\n")


@needs_root
def test_bpftrace_dying_early_is_reported_and_the_command_still_waited_for(tmp_path):
    result, events = run_record(tmp_path, ["sh", "-c", "sleep 0.6; exit 6"], "-b", FAKE,
                                env=proctrace_env(FAKE_BPFTRACE_MODE="die"))
    assert result.returncode == 6
    assert result.stderr == ("proctrace: warning: bpftrace stopped (exit status 1) before the command ended: "
                             "the recording ends early\n")
    assert isinstance(events[0], Fork)


@needs_root
def test_bpftrace_killed_is_said_by_its_signal(tmp_path):
    # issue 10, point 7: it said "exit status -9"
    result, events = run_record(tmp_path, ["sh", "-c", "sleep 0.6; exit 6"], "-b", FAKE,
                                env=proctrace_env(FAKE_BPFTRACE_MODE="killed"))
    assert result.returncode == 6
    assert result.stderr == ("proctrace: warning: bpftrace stopped (killed by SIGKILL) before the command ended: "
                             "the recording ends early\n")
    assert isinstance(events[0], Fork)


@needs_root
def test_not_root_and_no_sudo(tmp_path):
    python = "/usr/bin/python3"
    setpriv = shutil.which("setpriv")
    if not os.path.exists(python) or setpriv is None:
        pytest.skip("needs /usr/bin/python3 and setpriv to run as nobody")
    # somewhere nobody can reach (pytest's tmp_path is private to root)
    bin_dir = Path(tempfile.mkdtemp(prefix="proctrace-nobody-"))
    os.chmod(bin_dir, 0o777)
    (bin_dir / "bpftrace").symlink_to(shutil.which("bpftrace") or "/usr/bin/true")
    env = proctrace_env(PATH=str(bin_dir))
    env.pop("SUDO_UID", None)
    try:
        result = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m",
                                 "proctrace", "record", "-o", str(bin_dir / "out.jsonl"), "--", "/bin/true"],
                                cwd="/", env=env, stderr=subprocess.PIPE, timeout=60)
    finally:
        shutil.rmtree(bin_dir)
    assert result.returncode == 3, result.stderr
    line = _one_error_line(result.stderr.decode())
    assert line.startswith("proctrace: error: bpftrace needs root and sudo is not installed")


def test_no_btf(monkeypatch, tmp_path):
    monkeypatch.setattr(launch, "BTF", str(tmp_path / "vmlinux"))
    with pytest.raises(TracerError, match="no BTF type information.*CONFIG_DEBUG_INFO_BTF"):
        launch.check_kernel()


def test_tracefs_not_mounted_and_mount_failing(monkeypatch, tmp_path):
    (tmp_path / "vmlinux").touch()
    monkeypatch.setattr(launch, "BTF", str(tmp_path / "vmlinux"))
    monkeypatch.setattr(launch, "TRACEFS", str(tmp_path / "tracing"))
    monkeypatch.setattr(launch, "DEBUGFS_TRACING", str(tmp_path / "debug"))
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 32, b"", b"mount: permission denied")

    monkeypatch.setattr(launch.subprocess, "run", fake_run)
    with pytest.raises(TracerError, match=r"tracefs is not mounted.*mount -t tracefs tracefs"):
        launch.check_kernel()
    assert calls == [["mount", "-t", "tracefs", "tracefs", str(tmp_path / "tracing")]]


def test_missing_tracepoints(monkeypatch, tmp_path):
    (tmp_path / "vmlinux").touch()
    events = tmp_path / "tracing" / "events"
    for name in launch.TRACEPOINTS[:-1]:
        (events / name).mkdir(parents=True)
    monkeypatch.setattr(launch, "BTF", str(tmp_path / "vmlinux"))
    monkeypatch.setattr(launch, "TRACEFS", str(tmp_path / "tracing"))
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)
    with pytest.raises(TracerError, match="lacks the tracepoint.*sys_exit_setpgid"):
        launch.check_kernel()
