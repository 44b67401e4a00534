"""`proctrace record` as a user meets it, with real bpftrace: exit status, pipes, -p, Ctrl-C, orphans."""

import os
import shutil
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from proctrace.events import Exec, Exit, Fork, Lost
from recordkit import ROOT, attach, finish, proctrace_env, read_recording, record_argv, run_record, wait_for

pytestmark = pytest.mark.bpftrace


def _exits(events):
    return {event.pid: event for event in events if isinstance(event, Exit)}


def _root_pid(events):
    return next(event.child_pid for event in events if isinstance(event, Fork))


@pytest.mark.parametrize("script, status, code, signum", [
    ("exit 7", 7, 7, None),
    ("kill -TERM $$", 128 + signal.SIGTERM, None, signal.SIGTERM),
])
def test_exit_status_is_the_commands(tmp_path, script, status, code, signum):
    result, events = run_record(tmp_path, ["sh", "-c", script])
    assert result.returncode == status, result.stderr
    root = _exits(events)[_root_pid(events)]
    assert (root.exit_code, root.signal) == (code, signum)
    assert result.stderr == ""


def test_command_stdout_goes_to_stderr_when_recording_to_stdout(tmp_path):
    # the pipe of the issue: record | (something reading JSON lines)
    pipeline = (f"{sys.executable} -m proctrace record -- sh -c 'echo out-line; echo err-line >&2' "
                f"| cat > {tmp_path}/recording.jsonl")
    result = subprocess.run(["sh", "-c", pipeline], cwd=ROOT, env=proctrace_env(),
                            stderr=subprocess.PIPE, timeout=120)
    assert result.returncode == 0
    assert result.stderr.decode().splitlines() == ["out-line", "err-line"]
    events = read_recording(tmp_path / "recording.jsonl")
    assert any(isinstance(e, Exec) and e.cmdline[:2] == ("sh", "-c") for e in events)


def test_first_fork_and_exec_are_recorded(tmp_path):
    result, events = run_record(tmp_path, ["/bin/true", "first"])
    assert result.returncode == 0
    fork, exec_, exit_ = events
    assert (fork.parent_pid, fork.child_pid) == (fork.parent_pid, exec_.pid)
    assert (exec_.cmdline, exec_.filename, exec_.ppid) == (("/bin/true", "first"), "/bin/true", fork.parent_pid)
    assert (exit_.pid, exit_.exit_code, exit_.signal) == (exec_.pid, 0, None)


def test_argv_longer_than_the_limit_is_marked_truncated(tmp_path):
    from proctrace.record.parse import ARGV_LIMIT
    args = ["%06d" % i + "a" * 994 for i in range(ARGV_LIMIT // 1000 + 2)]
    result, events = run_record(tmp_path, ["/bin/true", *args])
    assert result.returncode == 0
    exec_ = next(e for e in events if isinstance(e, Exec))
    assert exec_.cmdline_truncated
    full = "\0".join(["/bin/true", *args])
    assert "\0".join(exec_.cmdline) == full[:ARGV_LIMIT]



def test_pid_records_a_running_process_and_its_existing_children(tmp_path):
    go = tmp_path / "go"
    script = (
        "import os, subprocess, sys, time\n"
        f"go = {str(go)!r}\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    while not os.path.exists(go): time.sleep(0.01)\n"
        "    os.execv('/bin/sh', ['sh', '-c', 'exit 5'])\n"
        "while not os.path.exists(go): time.sleep(0.01)\n"
        "subprocess.run(['/bin/echo', 'later'], stdout=subprocess.DEVNULL)\n"
        "os.waitpid(child, 0)\n"
        "sys.exit(4)\n")
    target = subprocess.Popen([sys.executable, "-c", script])
    out = tmp_path / "recording.jsonl"
    recorder = attach(target.pid, out)
    try:
        go.touch()
        status, err = finish(recorder)
        assert status == 4, err
    finally:
        target.wait(timeout=30)
        recorder.kill()
    events = read_recording(out)
    execs = [e for e in events if isinstance(e, Exec)]
    assert execs[0].pid == target.pid and execs[0].cmdline[:2] == (sys.executable, "-c")
    child = next(e.pid for e in execs[1:] if e.cmdline == ("sh", "-c", "exit 5"))
    echo = next(e for e in execs if e.cmdline == ("/bin/echo", "later"))
    assert any(isinstance(e, Fork) and e.child_pid == echo.pid and e.parent_pid == target.pid for e in events)
    exits = _exits(events)
    assert exits[child].exit_code == 5 and exits[echo.pid].exit_code == 0
    assert exits[target.pid].exit_code == 4


def test_ctrl_c_reaches_the_command_and_the_recording_stays_valid(tmp_path):
    started = tmp_path / "started"
    out = tmp_path / "recording.jsonl"
    recorder = subprocess.Popen(record_argv("-o", out, "--", "sh", "-c", f"touch {started}; exec sleep 30"),
                                cwd=ROOT, env=proctrace_env(), stderr=subprocess.PIPE)
    wait_for(started.exists)
    time.sleep(0.1)
    recorder.send_signal(signal.SIGINT)
    assert recorder.wait(timeout=30) == 128 + signal.SIGINT
    events = read_recording(out)
    root = _exits(events)[_root_pid(events)]
    assert root.signal == signal.SIGINT
    assert any(isinstance(e, Exec) and e.cmdline == ("sleep", "30") for e in events)


def test_outlived_processes_are_listed(tmp_path):
    result, events = run_record(tmp_path, ["sh", "-c", "sleep 3 & echo $! > bg.pid"], cwd=tmp_path)
    assert result.returncode == 0
    orphan = int((tmp_path / "bg.pid").read_text())
    assert "1 process outlived the command" in result.stderr
    assert f"{orphan} sleep 3" in result.stderr
    assert orphan not in _exits(events)
    os.kill(orphan, signal.SIGKILL)


def test_follow_orphans_records_until_they_exit(tmp_path):
    result, events = run_record(tmp_path, ["sh", "-c", "sleep 1 & echo $! > bg.pid"], "--follow-orphans",
                                cwd=tmp_path)
    assert result.returncode == 0
    orphan = int((tmp_path / "bg.pid").read_text())
    assert _exits(events)[orphan].exit_code == 0
    assert "outlived" not in result.stderr


def test_debug_shows_raw_bpftrace_lines(tmp_path):
    result, _ = run_record(tmp_path, ["/bin/true"], "--debug")
    assert result.returncode == 0
    assert "proctrace: bpftrace: PT_BEGIN" in result.stderr
    # the map entry of /bin/true's exec (kind 2), and no empty lines
    assert re.search(r"^proctrace: bpftrace: @m\d\[\d+, \d+, 2, 0\]: \(", result.stderr, re.M)
    assert "proctrace: bpftrace: \n" not in result.stderr


@pytest.mark.parametrize("options, adopt, end_on_root", [
    ((), False, True), (("-p", "1"), True, True), (("--follow-orphans",), False, False),
])
def test_print_script_is_the_script_that_runs(options, adopt, end_on_root):
    from proctrace.record import script_text
    result = subprocess.run(record_argv("--print-script", *options), cwd=ROOT, env=proctrace_env(),
                            stdout=subprocess.PIPE, timeout=60)
    assert result.returncode == 0
    assert result.stdout.decode() == script_text(adopt=adopt, end_on_root=end_on_root)
    assert "tracepoint:sched:sched_process_exec" in result.stdout.decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="bpftrace's dry run needs root too")
def test_the_script_for_other_machines_than_x86_64_compiles(tmp_path):
    # there setsid's and setpgid's records are read, not the saved registers
    from proctrace.record.btf import field_offsets, read_btf
    from proctrace.record.script import render_script
    script = render_script(field_offsets(read_btf(), machine="aarch64"), adopt=True, end_on_root=True)
    assert "tracepoint:syscalls:sys_enter_setpgid" in script
    result = subprocess.run(["bpftrace", "--no-warnings", "--emit-elf", str(tmp_path / "x.elf"), "-e", script, "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "x.elf").stat().st_size > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_under_sudo_the_command_runs_as_the_calling_user_with_the_callers_environment(tmp_path):
    # what sudo leaves for root: the caller's ids in SUDO_*, root's names and home
    env = proctrace_env(SUDO_UID="65534", SUDO_GID="65534", SUDO_USER="nobody", PROCTRACE_MARK="kept",
                        HOME="/root", USER="root", LOGNAME="root", SHELL="/bin/bash", MAIL="/var/mail/root")
    script = 'echo "$(id -u) $(id -g) $PROCTRACE_MARK $HOME $USER $LOGNAME $SHELL $MAIL"'
    result, events = run_record(tmp_path, ["sh", "-c", script], env=env, cwd="/")
    assert result.returncode == 0, result.stderr
    # as `sudo -u nobody` would give them (issue 10, point 6)
    assert result.stdout.decode() == "65534 65534 kept /nonexistent nobody nobody /usr/sbin/nologin /var/mail/nobody\n"
    assert any(isinstance(e, Exec) and e.cmdline[0] == "sh" for e in events)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_as_plain_root_the_command_runs_as_root(tmp_path):
    env = proctrace_env()
    for name in ("SUDO_UID", "SUDO_GID", "SUDO_USER"):
        env.pop(name, None)
    result, _ = run_record(tmp_path, ["id", "-u"], env=env)
    assert result.stdout.decode() == "0\n"


SUDO_USER = os.environ.get("PROCTRACE_SUDO_TEST_USER", "")


@pytest.mark.skipif(os.geteuid() != 0 or not SUDO_USER,
                    reason="set PROCTRACE_SUDO_TEST_USER to a user with password-less sudo to test the sudo path")
def test_not_root_runs_only_bpftrace_through_sudo(tmp_path):
    import pwd
    user = pwd.getpwnam(SUDO_USER)
    shared = Path(tempfile.mkdtemp(prefix="proctrace-sudo-"))
    os.chmod(shared, 0o777)
    env = proctrace_env(HOME=user.pw_dir, PATH="/usr/local/bin:/usr/bin:/bin")
    for name in ("SUDO_UID", "SUDO_GID", "SUDO_USER"):
        env.pop(name, None)
    try:
        result = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                                 "/usr/bin/python3", "-m", "proctrace", "record", "-o", str(shared / "rec.jsonl"),
                                 "--", "sh", "-c", "id -u; exit 4"],
                                cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        events = read_recording(shared / "rec.jsonl")
    finally:
        shutil.rmtree(shared)
    assert result.returncode == 4, result.stderr
    assert result.stdout.decode() == f"{user.pw_uid}\n"  # the command ran as the user, not as root
    assert _exits(events)[_root_pid(events)].exit_code == 4


@pytest.mark.skipif(os.geteuid() != 0 or not SUDO_USER,
                    reason="set PROCTRACE_SUDO_TEST_USER to a user with password-less sudo to test the sudo path")
def test_sudo_proctrace_record_gives_the_command_the_users_home(tmp_path):
    # issue 10, point 6: under `sudo proctrace record` the command had HOME=/root
    # and USER=root, so `mkdir "$HOME/..."` failed
    import pwd
    user = pwd.getpwnam(SUDO_USER)
    shared = Path(tempfile.mkdtemp(prefix="proctrace-sudo-"))
    os.chmod(shared, 0o777)
    env = proctrace_env(HOME=user.pw_dir, USER=SUDO_USER, LOGNAME=SUDO_USER, PATH="/usr/local/bin:/usr/bin:/bin")
    for name in ("SUDO_UID", "SUDO_GID", "SUDO_USER"):
        env.pop(name, None)
    script = 'echo "$(id -u) $HOME $USER $LOGNAME $SHELL"; mkdir "$HOME/.proctrace-test-$$" && rmdir "$HOME/.proctrace-test-$$"'
    try:
        # sudo resets the environment: PYTHONPATH goes through env(1)
        result = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                                 "sudo", "-n", "env", f"PYTHONPATH={ROOT}", "/usr/bin/python3", "-m", "proctrace",
                                 "record", "-o", str(shared / "rec.jsonl"), "--", "sh", "-c", script],
                                cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        events = read_recording(shared / "rec.jsonl")
    finally:
        shutil.rmtree(shared)
    assert result.returncode == 0, result.stderr
    shell = user.pw_shell or "/bin/sh"
    assert result.stdout.decode() == f"{user.pw_uid} {user.pw_dir} {SUDO_USER} {SUDO_USER} {shell}\n"
    assert _exits(events)[_root_pid(events)].exit_code == 0


def test_terminal_ctrl_c_reaches_the_command_once(tmp_path):
    # In a terminal, Ctrl-C signals the whole foreground group: the command
    # gets it from the terminal, so proctrace must not send it a second one,
    # and bpftrace (in a group of its own) must keep recording.
    import pty
    counted, ready = tmp_path / "count", tmp_path / "ready"
    script = ("import signal, sys, time\n"
              "got = []\n"
              "signal.signal(signal.SIGINT, lambda *_: got.append(1))\n"
              f"open({str(ready)!r}, 'w').close()\n"
              "deadline = time.monotonic() + 60\n"
              "while not got and time.monotonic() < deadline: time.sleep(0.01)\n"
              "time.sleep(0.5)\n"
              f"open({str(counted)!r}, 'w').write(str(len(got)))\n")
    out = tmp_path / "recording.jsonl"
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execve(sys.executable, record_argv("-o", out, "--", sys.executable, "-c", script), proctrace_env())
    try:
        wait_for(ready.exists)
        os.write(master, b"\x03")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0
    assert counted.read_text() == "1"
    events = read_recording(out)
    assert _exits(events)[_root_pid(events)].exit_code == 0


def test_a_burst_of_big_argv_is_recorded_completely(tmp_path):
    # Regression: bpftrace lags behind such a burst by seconds and drops what
    # it has not printed when stopped; record must wait until it caught up.
    script = 'a=$(head -c 8000 /dev/zero | tr "\\0" x); i=0; while [ $i -lt 300 ]; do /bin/true "$a"; i=$((i+1)); done'
    result, events = run_record(tmp_path, ["sh", "-c", script])
    assert result.returncode == 0, result.stderr
    execs = [e for e in events if isinstance(e, Exec) and e.cmdline[:1] == ("/bin/true",)]
    assert len(execs) == 300, result.stderr
    short = [len("".join(e.cmdline)) for e in execs if e.cmdline != ("/bin/true", "x" * 8000) or e.cmdline_truncated]
    assert not short, f"{len(short)} argvs cut short (lengths {short[:5]}), {result.stderr}"
    assert _exits(events)[_root_pid(events)].exit_code == 0


def test_a_parallel_burst_of_big_argv_is_recorded_completely(tmp_path):
    # Four at once, as a parallel build runs its compiler lines: bpftrace's
    # buffers fill faster than with one at a time.
    script = ('a=$(head -c 8000 /dev/zero | tr "\\0" x); '
              'seq 300 | xargs -P4 -I{} /bin/true {} "$a"')
    result, events = run_record(tmp_path, ["sh", "-c", script])
    assert result.returncode == 0, result.stderr
    execs = [e for e in events if isinstance(e, Exec) and e.cmdline[:1] == ("/bin/true",)]
    assert sorted(int(e.cmdline[1]) for e in execs) == list(range(1, 301)), result.stderr
    short = [e.cmdline[1] for e in execs if e.cmdline[2:] != ("x" * 8000,) or e.cmdline_truncated]
    assert not short, f"{len(short)} argvs cut short (runs {short[:5]}), {result.stderr}"
    assert not [e for e in events if isinstance(e, Lost)], result.stderr


# Execs that write every argv length from 2 to 70 bytes and 120 to 136 (a short one goes
# in its Exec's own entry, up to 32 bytes; a longer one in 128-byte chunks), each through a
# path of 18 to 29 bytes (a filename goes in the Exec's entry up to 24 bytes with its NUL).
_LENGTHS_DRIVER = """
import os, sys
for target, argv in zip(sys.argv[1::2], sys.argv[2::2]):
    argv = argv.split("/")  # the arguments, between slashes
    os.waitpid(os.posix_spawn(target, argv, {"\\x01\\x02\\x03\\x04": "x"}), 0)
"""


def _raw_words(debug_output):
    """The bytes of every word of every map entry in bpftrace's raw lines (`record --debug`)."""
    out = b""
    for line in debug_output.splitlines():
        line = line.removeprefix("proctrace: bpftrace: ")
        if line.startswith(("@m", "@c")):
            numbers = re.findall(r"\d+", line.split(":", 1)[1])
            out += b"".join(int(number).to_bytes(8, "little") for number in numbers)
    return out


def test_argv_and_filename_of_every_length_near_the_limits_are_exact(tmp_path):
    links = Path(tempfile.mkdtemp(prefix="pt", dir="/tmp"))  # a short directory: the paths are short
    try:
        pairs = []
        lengths = list(range(2, 71)) + list(range(120, 137))
        for number, length in enumerate(lengths):
            path = str(links / "t")
            path += "x" * (18 + number % 12 - len(path))  # 18 to 29 bytes
            if not os.path.exists(path):
                os.symlink("/bin/true", path)
            # argv[0] "a", then "b"s: each argument and its NUL count
            argv = ["a", "b" * (length - 3)] if length >= 3 else ["a" * (length - 1)]
            assert len(b"".join(arg.encode() + b"\0" for arg in argv)) == length
            pairs += [path, "/".join(argv)]
        result, events = run_record(tmp_path, [sys.executable, "-c", _LENGTHS_DRIVER, *pairs], "--debug")
    finally:
        shutil.rmtree(links)
    assert result.returncode == 0, result.stderr[-2000:]
    execs = [e for e in events if isinstance(e, Exec) and e.filename != sys.executable]
    assert [(e.filename, "/".join(e.cmdline)) for e in execs] == list(zip(pairs[::2], pairs[1::2]))
    assert not any(e.cmdline_truncated for e in execs)
    # what lies past an argv, the environment, never leaves the kernel
    words = _raw_words(result.stderr)
    assert b"bbbb" in words and b"\x01\x02\x03\x04" not in words


def test_ctrl_c_ends_a_pid_recording(tmp_path):
    target = subprocess.Popen(["sleep", "30"])
    out = tmp_path / "recording.jsonl"
    recorder = attach(target.pid, out)
    try:
        recorder.send_signal(signal.SIGINT)
        status, err = finish(recorder, timeout=30)
        assert status == 128 + signal.SIGINT, err
        assert target.poll() is None  # not ours to stop
    finally:
        target.kill()
        target.wait()
        recorder.kill()
    (snapshot,) = read_recording(out)
    assert isinstance(snapshot, Exec) and snapshot.cmdline == ("sleep", "30")
