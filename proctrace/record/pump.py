"""Reading bpftrace while the recorded tree runs, and deciding when to stop it.

`pump` yields bpftrace's output as batches of raw lines for the parser; it
watches what the later stages have seen of the tree (session.py's _Tree:
the root's exit, the Final marker, how far bpftrace has read) to stop
bpftrace once the recording is complete, and passes the signals proctrace
gets on to the command.

    for lines in pump(tracer, held, tree, first_lines, early_err, debug=False,
                      follow_orphans=False, say=print, control={...}): ...
    wait_for_the_end(tracer, held, tree, control)
"""

from __future__ import annotations

import os
import select
import signal
import time

from proctrace.record import launch, process

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Iterator, List, Optional

__all__ = ["FORWARDED", "pump", "wait_for_command", "wait_for_the_end"]

# With a command (and no --follow-orphans) the script says when the root's
# exit has been printed (PT_FINAL): bpftrace is stopped then.  Otherwise it is
# interrupted, and prints what its maps still hold as it exits, once it has
# read what the kernel gave it until CATCH_UP_NS after the root ended (the
# dump markers say when they were asked for; by then the epoch of the end was
# printed too, and with it the orphans --follow-orphans waits for).  A
# bpftrace that prints nothing for EXIT_GRACE_S is stopped anyway.
# A bpftrace that lags far behind still has FINAL_WAIT_NS to print it.
CATCH_UP_NS = 300_000_000
FINAL_WAIT_NS = 10_000_000_000
EXIT_GRACE_S = 2.0
# How long bpftrace may take to drain and exit once asked to.
DRAIN_TIMEOUT_S = 15.0
POLL_S = 0.05
BATCH_S = 0.01
BATCH_BYTES = 16384
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (the terminal's Ctrl-C)


def pump(tracer: launch.Tracer, held: Optional[process.HeldCommand], tree, lines: List[bytes],
         early_err: bytes, *, debug: bool, follow_orphans: bool, say, control) -> Iterator[List[bytes]]:
    """bpftrace's output as batches of lines; stops bpftrace once the tree is done.

    Signals that proctrace gets (blocked, and collected here) go to the
    command; the terminal's Ctrl-C already reached it, so that one is not sent
    twice.  With --pid there is no command of ours: a signal ends the recording.
    """
    partial = {tracer.stdout.fileno(): b"", tracer.stderr.fileno(): b""}
    err_fd = tracer.stderr.fileno()
    if debug:
        for line in lines[:-1]:
            say(f"bpftrace: {line.rstrip().decode('utf-8', 'backslashreplace')}")
    yield lines[:-1]
    partial[tracer.stdout.fileno()] = lines[-1]
    _stderr_lines(early_err.split(b"\n"), debug, say)
    last_output = time.monotonic()
    ended_ns: Optional[int] = None
    stop_deadline: Optional[float] = None
    while partial:
        ready, _, _ = select.select(list(partial), [], [], POLL_S)
        out: List[bytes] = []
        got = 0
        for fd in ready:
            data = os.read(fd, 1 << 16)
            got += len(data)
            if not data:
                rest = partial.pop(fd)
                chunk = [rest] if rest else []
            else:
                chunk = (partial[fd] + data).split(b"\n")
                partial[fd] = chunk.pop()
            if fd == err_fd:
                # bpftrace may report lost events on either stream
                out.extend(line for line in chunk if line.startswith(b"Lost "))
                _stderr_lines([line for line in chunk if not line.startswith(b"Lost ")], debug, say)
            else:
                if debug:
                    for line in chunk:
                        if line.strip():
                            say(f"bpftrace: {line.decode('utf-8', 'backslashreplace')}")
                out.extend(chunk)
        if out:
            last_output = time.monotonic()
            yield out
        if tree.final:
            # the root's exit is told: nothing more is wanted (see Tracer.finish)
            tracer.finish()
            break
        if 0 < got < BATCH_BYTES:
            # Let lines gather: a busy tree then costs a wake-up per 10 ms,
            # not one per line.  Not when the pipe was full: bpftrace is
            # waiting for us (a 128 KB argv is 300 KB of map entries).
            time.sleep(BATCH_S)
        # who sent us a signal?
        while True:
            info = signal.sigtimedwait(FORWARDED, 0)
            if info is None:
                break
            if held is not None and held.status is None:
                if info.si_code != SI_KERNEL:
                    try:
                        os.kill(held.pid, info.si_signo)
                    except ProcessLookupError:
                        pass
            elif held is None:
                control["interrupted_by"] = info.si_signo  # stop, once bpftrace caught up
        now = time.monotonic()
        if tracer.interrupted:
            if stop_deadline is None:
                stop_deadline = now + DRAIN_TIMEOUT_S
            elif now > stop_deadline:
                say("warning: bpftrace did not stop in time: the recording may end early")
                tracer.kill()
                break
            continue
        # The root is done once it has ended (its Exit is in bpftrace's maps)
        if held is not None:
            ended = held.poll() is not None
        else:
            ended = tree.root_exit is not None or not process.pid_alive(tree.root)
        if not (ended or control["interrupted_by"] is not None):
            continue
        if ended_ns is None:
            ended_ns = time.monotonic_ns()
        if (not follow_orphans and control["interrupted_by"] is None and now - last_output < EXIT_GRACE_S
                and time.monotonic_ns() - ended_ns < FINAL_WAIT_NS):
            continue  # PT_FINAL is coming
        if tree.read_up_to - ended_ns < CATCH_UP_NS and now - last_output < EXIT_GRACE_S:
            continue
        if (follow_orphans and control["interrupted_by"] is None
                and any(process.pid_alive(p) for p in tree.alive if p != tree.root)):
            continue
        tracer.interrupt()


def wait_for_the_end(tracer: launch.Tracer, held: Optional[process.HeldCommand], tree, control) -> None:
    """After `pump`: wait for bpftrace to exit, and for the command.

    Separate from pump, so that what was read is written while the kernel
    tears bpftrace's probes down (half a second, mostly waiting).
    """
    if tracer.process.poll() is None and tracer.process.returncode is None:
        try:
            tracer.wait(timeout=DRAIN_TIMEOUT_S)
        except Exception:  # noqa: BLE001 -- a stuck bpftrace must not hang us
            tracer.kill()
    if held is not None and held.status is None:
        if not tree.final:
            # bpftrace died first: still wait for the command and pass signals on
            control["died_early"] = True
        wait_for_command(held)


def _stderr_lines(lines: List[bytes], debug: bool, say) -> None:
    """bpftrace's messages: shown with --debug; otherwise only what is not known noise."""
    for line in lines:
        if not line.strip():
            continue
        text = line.decode("utf-8", "backslashreplace")
        if debug:
            say(f"bpftrace: {text}")
        elif not any(h in line for h in launch.HARMLESS):
            say(f"bpftrace: {text}")


def wait_for_command(held: process.HeldCommand) -> None:
    """Wait for the command to end, passing on the signals we get (not the terminal's, it has those)."""
    while held.poll() is None:
        info = signal.sigtimedwait(FORWARDED, POLL_S)
        if info is not None and info.si_code != SI_KERNEL:
            try:
                os.kill(held.pid, info.si_signo)
            except ProcessLookupError:
                pass
