"""Starting bpftrace, as root (through sudo when needed), and hearing why it failed.

Everything here touches the operating system: finding bpftrace, checking what
the kernel offers, spawning bpftrace in its own process group and handing it
its script.  The command's side (held back until bpftrace is ready, run as
the sudo caller) is process.py's; the recording loop is session.py's.

    tracer = Tracer.start(tracer_argv([], "/usr/bin/bpftrace", 1234))   a bpftrace, loading
    tracer.send_script(script)                                           compiling, then attaching
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time

from proctrace.events import TracerError
from proctrace.record.script import MAP_ENTRIES

TYPE_CHECKING = False  # typing (and dataclasses) cost start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["Tracer", "find_bpftrace", "tracer_argv", "tracer_env", "check_kernel", "start_sudo",
           "describe_returncode"]

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
BTF = "/sys/kernel/btf/vmlinux"
TRACEPOINTS = ("task/task_newtask", "sched/sched_process_exec", "sched/sched_process_exit",
               "syscalls/sys_exit_setsid", "syscalls/sys_enter_setpgid", "syscalls/sys_exit_setpgid")

# The maps hold MAP_ENTRIES (16384) each: an epoch's (100 ms) events and partial
# argv chunks in @m, its whole 128-byte chunks in @c, as many live processes
# in the tracking map.  They are preallocated kernel memory: about 16 MiB in
# all (3.6 MiB per epoch map).  The perf buffers carry only the ticks' few
# lines: bpftrace's default size (64 pages per CPU) is ample.
TRACER_ENV = {"BPFTRACE_MAP_KEYS_MAX": str(MAP_ENTRIES)}
# bpftrace loads the kernel's BTF (5 MB, 50 ms at every start) to type what
# a program reads; ours reads raw offsets (see proctrace.bt) and needs none of
# it, so it is handed BTF without types: a header and an empty string table.
NO_TYPES_BTF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-types.btf")


def tracer_env() -> Dict[str, str]:
    """The environment variables bpftrace runs with (see TRACER_ENV and NO_TYPES_BTF)."""
    return dict(TRACER_ENV, BPFTRACE_BTF=NO_TYPES_BTF)


# bpftrace prints this on kernels that account BPF memory to cgroups (5.11+),
# where the limit no longer matters; it is noise, not an error.
HARMLESS = (b"couldn't set RLIMIT_MEMLOCK",)


def find_bpftrace(path: str) -> str:
    """The absolute path of the bpftrace to run; TracerError with a remedy when none."""
    found = shutil.which(path)
    if found is None:
        where = f"{path!r} in PATH" if os.sep not in path else repr(path)
        raise TracerError(f"bpftrace not found (looked for {where}): install it "
                          "(e.g. `apt-get install bpftrace`) or pass --bpftrace-path PATH")
    return os.path.abspath(found)


def start_sudo() -> List[str]:
    """The prefix that runs bpftrace as root: [] as root, else sudo (asked for a password now)."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo is None:
        raise TracerError("bpftrace needs root and sudo is not installed: "
                          "run proctrace as root (or install sudo)")
    # Ask for the password here, in the foreground, so that bpftrace can then
    # run in a process group of its own (out of reach of the terminal's
    # Ctrl-C, which must reach the command, not stop the recording).
    if subprocess.call([sudo, "-v"]) != 0:
        raise TracerError("sudo refused to run bpftrace as root: "
                          "run proctrace as root or get sudo rights")
    env = [f"{key}={value}" for key, value in tracer_env().items()]
    return [sudo, "-n", "--", "env"] + env


def check_kernel() -> None:
    """Fail early, with a remedy, when the kernel lacks what the script needs."""
    if not os.path.exists(BTF):
        raise TracerError(f"this kernel has no BTF type information ({BTF} is missing): "
                          "proctrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")
    if os.geteuid() != 0:
        return  # tracefs is readable by root only: bpftrace will tell
    events = os.path.join(TRACEFS, "events")
    if not os.path.isdir(events) and not os.path.isdir(os.path.join(DEBUGFS_TRACING, "events")):
        result = subprocess.run(["mount", "-t", "tracefs", "tracefs", TRACEFS],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode != 0 or not os.path.isdir(events):
            raise TracerError(f"tracefs is not mounted and mounting it failed "
                              f"({result.stderr.decode(errors='replace').strip() or 'no events'}): "
                              f"run `mount -t tracefs tracefs {TRACEFS}`")
    base = events if os.path.isdir(events) else os.path.join(DEBUGFS_TRACING, "events")
    missing = [name for name in TRACEPOINTS if not os.path.isdir(os.path.join(base, name))]
    if missing:
        raise TracerError(f"this kernel lacks the tracepoint(s) {', '.join(missing)}: "
                          "proctrace needs CONFIG_FTRACE_SYSCALLS and a kernel of 5.x or later")


def tracer_argv(prefix: Sequence[str], bpftrace: str, root: int) -> List[str]:
    """The command line that runs on `root` the script it is sent (see proctrace.bt's header).

    The program comes on standard input ("-"): bpftrace is started first and
    loads its libraries (40 ms) while proctrace reads the kernel's BTF and
    fills in the script, which then goes to Tracer.send_script.
    """
    return list(prefix) + [bpftrace, "-B", "line", "--no-warnings", "-", str(root)]


def describe_returncode(returncode: Optional[int]) -> str:
    """How a child ended, in words: Popen's -9 is "killed by SIGKILL", not an exit status."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


def _explain(stderr: bytes, status: Optional[int]) -> str:
    """bpftrace's complaint, in one line, with a remedy when we know one."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip() and not any(h.decode() in line for h in HARMLESS)]
    errors = [line for line in lines if "ERROR" in line or "rror" in line] or lines
    message = errors[0] if errors else describe_returncode(status)
    text = " ".join(lines).lower()
    if "tracefs" in text or "debugfs" in text or "tracepoint not found" in text:
        return (f"bpftrace cannot attach its tracepoints ({message}): mount tracefs with "
                f"`sudo mount -t tracefs tracefs {TRACEFS}`")
    if "btf" in text:
        return f"bpftrace cannot read the kernel's BTF type information ({message})"
    if "permission" in text or "not permitted" in text or "root" in text:
        return f"bpftrace was not permitted to run ({message}): run proctrace as root or through sudo"
    if "password" in text or "sudo" in text:
        return f"sudo did not run bpftrace ({message}): run `sudo -v` first or run proctrace as root"
    return f"bpftrace rejected the script: {message}"


def _tracer_child_setup() -> None:
    # A process group of its own keeps the terminal's Ctrl-C away from
    # bpftrace (it must record the command's reaction to it), and proctrace
    # blocks the signals it forwards: bpftrace needs SIGINT to stop.
    os.setpgrp()
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


class Tracer:
    """A running bpftrace (or sudo running it), in its own process group."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.interrupted = False

    @classmethod
    def start(cls, argv: List[str]) -> "Tracer":
        env = dict(os.environ)
        env.update(tracer_env())
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=env, preexec_fn=_tracer_child_setup)
        except OSError as err:
            raise TracerError(f"cannot run {argv[0]}: {err.strerror}") from None
        return cls(process)

    def send_script(self, script: str) -> None:
        """Hand bpftrace its program (it reads standard input to the end, then compiles)."""
        try:
            self.process.stdin.write(script.encode("utf-8"))
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it went away: wait_begin says why, from its stderr

    def wait_begin(self, timeout: float) -> Tuple[List[bytes], bytes]:
        """Read until the PT_BEGIN line; (lines so far, stderr so far) or TracerError.

        The last of the lines is the unfinished start of the next one (maybe b"").
        """
        out, err = b"", b""
        fds = {self.stdout.fileno(): "out", self.stderr.fileno(): "err"}
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise TracerError(f"bpftrace did not start within {timeout:.0f} s: "
                                  f"{_explain(err, None)}")
            ready, _, _ = select.select(list(fds), [], [], remaining)
            for fd in ready:
                data = os.read(fd, 65536)
                if fds[fd] == "out":
                    out += data
                else:
                    err += data
                if not data:
                    # it is going away: its complaint may still be in the pipe
                    status = self.process.wait()
                    err += self.stderr.read()
                    raise TracerError(_explain(err, status))
            if b"PT_BEGIN" in out and b"\n" in out[out.index(b"PT_BEGIN"):]:
                # complete lines, then the start of the next one (maybe empty)
                lines = out.split(b"\n")
                partial = lines.pop()
                return [line + b"\n" for line in lines] + [partial], err

    def interrupt(self) -> None:
        """Ask bpftrace to detach, drain its buffers and run END (sudo relays SIGINT)."""
        if not self.interrupted and self.process.poll() is None:
            self.interrupted = True
            try:
                os.kill(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def finish(self) -> None:
        """Stop bpftrace once all it printed that is wanted has been read.

        Killed, it skips what SIGINT costs it (its END probe, 100 ms waiting
        for more output, printing its maps); the kernel still detaches every
        probe before the process is gone, and that, about one RCU grace
        period per tracepoint, is then all that is left of its exit.  Under
        sudo, which cannot pass SIGKILL on, it is interrupted instead.
        """
        if self.process.poll() is not None:
            return
        self.interrupted = True
        try:
            os.kill(self.process.pid, signal.SIGKILL)
        except PermissionError:
            self.interrupted = False
            self.interrupt()
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """Stop bpftrace at once (its output is not wanted any more)."""
        if self.process.poll() is None:
            self.interrupted = True
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(self.process.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def wait(self, timeout: float) -> int:
        """Popen.wait(timeout), woken as soon as bpftrace has exited.

        Popen.wait with a timeout polls, 50 ms apart once it has waited a
        while: the kernel's half second of detaching probes ended up to 50 ms
        before record saw it.  A pidfd becomes readable when the process ends.
        """
        if self.process.returncode is not None:
            return self.process.returncode  # reaped: its pid may be another process's by now
        try:
            pidfd = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # Linux before 5.3, or gone meanwhile
            return self.process.wait(timeout=timeout)
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.process.args, timeout)
        finally:
            os.close(pidfd)
        return self.process.wait()
