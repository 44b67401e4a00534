"""The command's process: forked and held before exec until bpftrace is ready, run as the sudo caller.

Also what /proc says of a pid (alive, and its parent, group and session),
which the recording loop and snapshot.py ask while the command runs.

    held = spawn_held(["make", "-j8"], stdout_to_stderr=False, run_as=command_user())
    ...                                   bpftrace starts and attaches, tracking held.pid
    held.release()                        the command execs, traced from its first instruction
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
from collections import namedtuple

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

__all__ = ["RunAs", "HeldCommand", "command_exists", "command_user", "spawn_held", "read_proc_stat", "pid_alive"]


class RunAs(namedtuple("RunAs", "uid gid groups name home shell", defaults=(None, "", ""))):
    """The user the command runs as when proctrace itself runs under sudo.

    uid, gid, groups; and from the password database name (None when the
    uid has no entry there), home and shell.
    """

    __slots__ = ()

    def environment(self, environ: Dict[str, str]) -> Dict[str, str]:
        """`environ` with the user's HOME, USER, LOGNAME, SHELL (and MAIL), as `sudo -u` sets them.

        sudo set them for root, and a command that writes to $HOME as the
        user then fails; everything else is left as the caller had it.
        """
        env = dict(environ)
        if self.name is None:
            return env
        env.update(HOME=self.home, USER=self.name, LOGNAME=self.name, SHELL=self.shell or "/bin/sh")
        if "MAIL" in env:
            env["MAIL"] = os.path.join(os.path.dirname(env["MAIL"]), self.name)
        return env


def command_exists(name: str) -> bool:
    """Whether exec would find `name`, as a shell's PATH search would."""
    if os.sep in name:
        return os.path.exists(name)
    return shutil.which(name) is not None


def command_user() -> Optional[RunAs]:
    """Who the command should run as: the sudo caller when we are root under sudo."""
    if os.geteuid() != 0:
        return None
    try:
        uid = int(os.environ["SUDO_UID"])
        gid = int(os.environ["SUDO_GID"])
    except (KeyError, ValueError):
        return None
    if uid == 0:
        return None
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return RunAs(uid, gid, (gid,))
    return RunAs(uid, gid, tuple(os.getgrouplist(entry.pw_name, gid)), entry.pw_name, entry.pw_dir,
                 entry.pw_shell)


class HeldCommand:
    """The command, forked but held before exec until bpftrace is ready.

    Holding it in a forked child means its pid is known before bpftrace starts
    (the script tracks that pid), and its exec and everything after it happen
    under tracing.  Closing the pipe without a go byte ends it unexecuted.
    """

    def __init__(self, pid: int, go_fd: int, error_fd: int):
        self.pid = pid
        self._go_fd = go_fd
        self._error_fd = error_fd
        self.status: Optional[int] = None

    def releasable(self) -> bool:
        """Whether the command is still held (neither released nor abandoned)."""
        return self._go_fd >= 0

    def release(self) -> Optional[OSError]:
        """Let the command exec; the OSError that exec failed with, if it did."""
        os.write(self._go_fd, b"g")
        os.close(self._go_fd)
        self._go_fd = -1
        data = b""
        while True:
            chunk = os.read(self._error_fd, 64)  # EOF when exec succeeded (close-on-exec)
            if not chunk:
                break
            data += chunk
        os.close(self._error_fd)
        self._error_fd = -1
        if data:
            code = int(data.split(b":", 1)[0] or errno.ENOENT)
            return OSError(code, os.strerror(code))
        return None

    def abandon(self) -> None:
        """Close the go pipe unreleased: the child exits without exec'ing."""
        for fd in (self._go_fd, self._error_fd):
            if fd >= 0:
                os.close(fd)
        self._go_fd = self._error_fd = -1
        if self.status is None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.status = 0

    def poll(self) -> Optional[int]:
        """The wait status once the command has ended (reaping it), else None."""
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.status
            if pid:
                self.status = status
        return self.status


def spawn_held(command: List[str], *, stdout_to_stderr: bool, run_as: Optional[RunAs]) -> HeldCommand:
    """Fork the command's process, held before exec (see HeldCommand)."""
    env = run_as.environment(os.environ) if run_as is not None else None
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os calls from here, and never return
        try:
            os.close(go_w)
            os.close(err_r)
            # Python ignores SIGPIPE and may have blocked signals; a command
            # expects the defaults, as a shell would give it
            for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                           signal.SIGHUP, signal.SIGQUIT):
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            if stdout_to_stderr:
                os.dup2(2, 1)
            if os.read(go_r, 1) != b"g":
                os._exit(125)  # proctrace went away: do not run the command untraced
            os.close(go_r)
            if run_as is not None:
                os.setgroups(list(run_as.groups))
                os.setgid(run_as.gid)
                os.setuid(run_as.uid)
            if env is None:
                os.execvp(command[0], command)
            os.execvpe(command[0], command, env)
        except OSError as err:
            try:
                os.write(err_w, b"%d:" % (err.errno or errno.ENOENT))
            except OSError:
                pass
            # a shell's statuses: 127 not found, 126 found but not runnable
            os._exit(127 if err.errno == errno.ENOENT else 126)
        except BaseException:  # noqa: BLE001 -- the child must never return
            pass
        os._exit(127)
    os.close(go_r)
    os.close(err_w)
    return HeldCommand(pid, go_w, err_r)


def read_proc_stat(pid: int) -> Optional[Tuple[int, int, int]]:
    """(ppid, pgid, sid) of a live process from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    # "1234 (comm with ) inside) S ppid pgid sid ..." -- comm may hold anything
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1]), int(fields[2]), int(fields[3])


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (not a zombie)."""
    return read_proc_stat(pid) is not None
