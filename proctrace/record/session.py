"""One recording: bpftrace's lines in, the recording (JSON lines, in time order) out.

The stages are generators: pump.pump yields batches of raw lines as bpftrace
writes them (and decides, from what has been seen, when to stop it);
parse_batches turns them into events (with -p, snapshot.reconcile puts
the /proc snapshot in front of them); `_observe` keeps track of the tree
(who is alive, whether the root has exited); sort_batches puts them in
timestamp order; the loop in run_record writes and flushes each batch.

    run_record(command=["make", "-j8"], pid=None, output=f, ...)  ->  make's exit status
"""

from __future__ import annotations

import errno
import os
import signal
import time

from proctrace.events import Exec, Exit, Fork, Lost, ProctraceError, to_json
from proctrace.record import launch, process
from proctrace.record.pump import FORWARDED, pump, wait_for_command, wait_for_the_end

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, Iterator, List, Optional, TextIO, Tuple

    from proctrace.record.snapshot import Snapshot

# parse.py and snapshot.py are imported once bpftrace has been started: it
# compiles meanwhile, and the command waits for it, not for our imports.

__all__ = ["run_record"]

# Event time an event is held for reordering: per-CPU buffers deliver events
# out of order by far less than this.
WINDOW_NS = 1_000_000_000
# How long bpftrace may take to compile, verify and attach the script.
BEGIN_TIMEOUT_S = 120.0


class _Tree:
    """What the stages have seen of the recorded tree; read by pump.pump to decide when to stop."""

    def __init__(self, root: int, alive: Dict[int, Tuple[str, ...]]):
        self.root = root
        self.alive = alive          # pid -> argv, for processes not seen exiting
        self.root_exit: Optional[Exit] = None
        self.ended = False          # the END marker was read
        self.read_up_to = 0         # bpftrace has read what the kernel gave it until then
        self.final = False          # the root's exit has been told (PT_FINAL)
        self.lost = 0
        self.cut_short = 0          # Execs that lost part of their argv or filename


def run_record(*, command: List[str], pid: Optional[int], output, output_is_stdout: bool,
               bpftrace_path: str = "bpftrace", debug: bool = False, follow_orphans: bool = False,
               stderr: TextIO) -> int:
    """Record `command` (or the running process `pid`: the command line checks
    that there is exactly one of them) to `output`; returns the exit status."""

    def say(message: str) -> None:
        stderr.write(f"proctrace: {message}\n")
        stderr.flush()

    # like a shell: an unknown command is reported before anything starts
    if command and not process.command_exists(command[0]):
        say(f"{command[0]}: command not found")
        return 127
    if pid is not None and not process.pid_alive(pid):
        raise ProctraceError(f"no running process has pid {pid}")
    bpftrace = launch.find_bpftrace(bpftrace_path)
    launch.check_kernel()
    prefix = launch.start_sudo()

    # Signals are collected by the recording loop (see pump.py), from before
    # anything starts: the children unblock them for themselves.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        return _start_and_record(command, pid, bpftrace, prefix, output=output,
                                 output_is_stdout=output_is_stdout, debug=debug,
                                 follow_orphans=follow_orphans, say=say)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _start_and_record(command: List[str], pid: Optional[int], bpftrace: str, prefix: List[str], *,
                      output, output_is_stdout: bool, debug: bool, follow_orphans: bool, say) -> int:
    from proctrace.record import script_text

    first: List = []
    snapshot = None
    if command:
        held = process.spawn_held(command, stdout_to_stderr=output_is_stdout, run_as=process.command_user())
        root = held.pid
        tree = _Tree(root, {root: tuple(command)})
    else:
        held = None
        root = pid
        tree = _Tree(root, {})  # filled by the snapshot's Execs

    tracer = None
    failure = None
    try:
        # bpftrace first: it loads its libraries while the script is made
        tracer = launch.Tracer.start(launch.tracer_argv(prefix, bpftrace, root))
        tracer.send_script(script_text(adopt=not command, end_on_root=not follow_orphans))
        _import_the_rest()
        lines, early_err = tracer.wait_begin(BEGIN_TIMEOUT_S)
        interrupted = set(signal.sigpending()) & set(FORWARDED)
        if interrupted:
            # Ctrl-C while bpftrace was starting: nothing has run yet
            for signum in interrupted:
                signal.sigtimedwait([signum], 0)
            if held is not None:
                held.abandon()
            tracer.kill()
            say("interrupted before the command started")
            return 128 + min(interrupted)
        if held is not None:
            # The fork happened before tracing began, so this Fork is told by
            # us; it is stamped when the held child is let go, since it only
            # starts to run then (not while bpftrace was starting).
            first.append(Fork(time.monotonic_ns(), os.getpid(), root, os.getpgrp()))
            failure = held.release()
            if failure is not None:
                say(f"{command[0]}: {failure.strerror}")
        else:
            # every probe is attached once PT_BEGIN has been read (see snapshot.py)
            from proctrace.record.snapshot import take_snapshot
            snapshot = take_snapshot(pid)
        status = _record(tracer, held, tree, first, lines, early_err, output=output, debug=debug,
                         follow_orphans=follow_orphans, say=say, snapshot=snapshot)
    except BaseException:
        if held is not None and held.status is None and held.releasable():
            held.abandon()
        if tracer is not None:
            tracer.kill()
        raise
    if failure is not None:
        return 127 if failure.errno == errno.ENOENT else 126
    return status


def _import_the_rest() -> None:
    """Import what the recording needs while bpftrace compiles (it takes a CPU for 0.4 s): imported
    later, at the first lines, they would delay the reading of the last ones by 20 to 30 ms."""
    import json  # noqa: F401  (events.to_json imports it at the first string it writes)

    import proctrace.record.parse  # noqa: F401
    import proctrace.record.snapshot  # noqa: F401
    import proctrace.sort  # noqa: F401


def _record(tracer: launch.Tracer, held: Optional[process.HeldCommand], tree: _Tree, first: list,
            lines: List[bytes], early_err: bytes, *, output, debug: bool, follow_orphans: bool,
            say, snapshot: Optional[Snapshot] = None) -> int:
    """The recording loop proper; returns the exit status."""
    from proctrace.record.snapshot import report_unseen_exits
    from proctrace.sort import sort_batches

    control: Dict[str, object] = {"interrupted_by": None, "died_early": False}
    raw = pump(tracer, held, tree, lines, early_err, debug=debug, follow_orphans=follow_orphans,
                say=say, control=control)
    items = read_items(raw, snapshot=snapshot, follow_orphans=follow_orphans, say=say)
    keyed = _observe(items, tree, first, say=say, debug=debug)
    try:
        for batch in sort_batches(keyed, window_ns=WINDOW_NS):
            output.write("".join(to_json(event) + "\n" for event in batch).encode("utf-8"))
            output.flush()
    except BrokenPipeError:
        # Nobody reads the recording any more: its reader got the same Ctrl-C
        # (a terminal signals the whole pipeline), or stopped early (`| head`).
        # Tracing stops, quietly; the command is not ours to end, and its
        # status is still ours to give.
        tracer.kill()
        _drop_output(output)
        if held is None:
            if control["interrupted_by"] is not None:
                return 128 + int(control["interrupted_by"])
            raise
        wait_for_command(held)
        return _command_status(held)
    wait_for_the_end(tracer, held, tree, control)
    if control["died_early"] or (tracer.process.returncode not in (0, None)
                                 and not tree.ended and not tree.final):
        when = " before the command ended" if control["died_early"] else ""
        say(f"warning: bpftrace stopped ({launch.describe_returncode(tracer.process.returncode)}){when}: "
            "the recording ends early")
    if tree.lost:
        say(f"warning: bpftrace lost {tree.lost} events: the recording is incomplete")
    if tree.cut_short:
        say(f"warning: {tree.cut_short} execs lost part of their argv or filename: "
            "they are marked truncated")
    _report_outlived(tree, say)
    if snapshot is not None:
        report_unseen_exits(snapshot, tree.alive, tree.root, say)
    if held is not None:
        return _command_status(held)
    if control["interrupted_by"] is not None:
        return 128 + int(control["interrupted_by"])
    if tree.root_exit is not None:
        if tree.root_exit.signal is not None:
            return 128 + tree.root_exit.signal
        return tree.root_exit.exit_code or 0
    return 0


def read_items(raw, *, snapshot: Optional[Snapshot], follow_orphans: bool, say) -> Iterator[list]:
    """bpftrace's batches of lines -> the batches of items the recording reads.

    A busy epoch's entries are held unread (parse.py) only when recording a
    command without --follow-orphans: that stop needs to know at once who is
    alive, and -p merges its /proc snapshot with the events of each epoch by
    the Tick that comes with them (snapshot.reconcile).
    """
    from proctrace.record.parse import parse_batches
    from proctrace.record.snapshot import reconcile
    items = parse_batches(raw, strict=False, hold=snapshot is None and not follow_orphans)
    if snapshot is not None:
        items = reconcile(items, snapshot, say=say)
    return items


def _command_status(held: process.HeldCommand) -> int:
    """The command's wait status as a shell gives it: its exit code, or 128+N for signal N."""
    status = held.status if held.status is not None else 0
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _drop_output(output) -> None:
    """Point the recording's file descriptor at /dev/null.

    What is still buffered for the vanished reader must not fail again when
    the output is flushed at exit (and print a traceback there).
    """
    try:
        fd = output.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _observe(batches, tree: _Tree, first: list, *, say, debug: bool) -> Iterator[Tuple[List[int], list]]:
    """Parsed batches -> (timestamps, events) for the sorter, keeping `tree` up to date."""
    from proctrace.record.markers import Begin, CutShort, End, Final, Garbled, Message, Tick
    if first:
        yield [event.timestamp for event in first], list(first)
    for batch in batches:
        keys, events = [], []
        for item in batch:
            if isinstance(item, Begin):
                continue
            if isinstance(item, End):
                tree.ended = True
                continue
            if isinstance(item, Tick):
                tree.read_up_to = item.timestamp
                continue
            if isinstance(item, Final):
                tree.final = True
                continue
            if isinstance(item, Message):
                if not item.text.startswith("Attaching ") and not debug:
                    say(f"bpftrace: {item.text}")
                continue
            if isinstance(item, CutShort):
                if not tree.cut_short:
                    say("warning: bpftrace's maps are full: argvs are being cut short "
                        "(they are marked truncated)")
                tree.cut_short += 1
                continue
            if isinstance(item, Garbled):
                say(f"warning: unreadable bpftrace line {item.lineno}: {item.reason}")
                continue
            if isinstance(item, Fork):
                tree.alive[item.child_pid] = tree.alive.get(item.parent_pid, ())
            elif isinstance(item, Exec):
                tree.alive[item.pid] = item.cmdline
            elif isinstance(item, Exit):
                tree.alive.pop(item.pid, None)
                if item.pid == tree.root:
                    tree.root_exit = item
            elif isinstance(item, Lost):
                if not tree.lost:
                    say("warning: bpftrace is losing events (its buffers overflowed): "
                        "the recording will be incomplete")
                tree.lost += item.count
            keys.append(item.timestamp)
            events.append(item)
        if events:
            yield keys, events


def _report_outlived(tree: _Tree, say) -> None:
    """List the tree's processes still running when the recording ends (they may hold pipes)."""
    from proctrace.record.snapshot import read_cmdline
    # what they run now: an orphan may have exec'd after the recording ended
    outlived = [(pid, read_cmdline(pid) or argv) for pid, argv in sorted(tree.alive.items())
                if pid != tree.root and process.pid_alive(pid)]
    if not outlived:
        return
    noun = "process" if len(outlived) == 1 else "processes"
    say(f"{len(outlived)} {noun} outlived the command (--follow-orphans waits for them):")
    for pid, argv in outlived:
        say(f"  {pid} {' '.join(argv)}")
