"""The process tree as indented text, like pstree with time: one line per process.

Each line gives the process's start (from the first event), how long it
ran, its pid, the tree drawing, its command and how it ended when that was
not a plain exit.  A process that exec'd more than once gets a line per
exec under it.  Commands are escaped (see text.py); on a terminal they are
cut to its width (unless --wide) and failures and processes that outlived
their root are coloured (unless NO_COLOR is set).

       START     TIME  PID  COMMAND
     0.00 ms   1.50 s  200  sh -c 'make all'
     2.00 ms    18 ms  201  └─ make all  [exit 2]
"""

from __future__ import annotations

from itertools import islice

from proctrace.model import cmdlines_of
from proctrace.render.text import RED, RESET, YELLOW, columns, command_of, command_text, duration, fit, notes, outcome

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterator, List, Optional, Tuple

    from proctrace.model import Process, Recording

__all__ = ["render"]

_PIECE = 4096        # processes whose lines are made and written together
_MIN_COMMAND = 12    # columns a command keeps however narrow the terminal


def _walk(root: Process) -> Iterator[Tuple[Process, str, str]]:
    """Each process of the tree, depth first, with its drawing and the one its execs and children continue."""
    stack = [(root, "", "")]
    while stack:  # a loop, not recursion: fork chains can be deep
        proc, drawing, below = stack.pop()
        yield proc, drawing, below
        children = proc.children
        if children:
            last = len(children) - 1
            stack.extend((child, below + ("└─ " if index == last else "├─ "),
                          below + ("   " if index == last else "│  "))
                         for index, child in reversed(list(enumerate(children))))


def _ending(proc: Process, root_end: Optional[int], last_ns: int) -> Tuple[str, bool]:
    """(what the line says of how the process ended, whether it outlived its root)."""
    said = outcome(proc)
    if root_end is None or proc.end_ns is not None and proc.end_ns <= root_end:
        return said, False
    if proc.end_ns is None:
        past = f"outlived the root by at least {duration(last_ns - root_end)}" if last_ns > root_end \
            else "outlived the root"
    else:
        past = f"outlived the root by {duration(proc.end_ns - root_end)}"
    return (said + ", " + past if said else past), True


def _lines(recording: Recording, root: Process) -> Iterator[List[Tuple[str, str, str, str, str, str, str]]]:
    """The tree of `root` as rows (start, time, pid, drawing, command, ending, colour), a piece at a time."""
    origin, last = recording.first_ns, recording.last_ns
    root_end = root.end_ns
    walk = _walk(root)
    while True:
        piece = list(islice(walk, _PIECE))
        if not piece:
            return
        steps = [proc.command_step() for proc, _, _ in piece]
        argvs = iter(cmdlines_of([step for step in steps if step is not None]))
        multi = [step for proc, _, _ in piece if len(proc.execs) > 1 for step in proc.execs]
        exec_argvs = iter(cmdlines_of(multi))
        rows = []
        for (proc, drawing, below), step in zip(piece, steps):
            end = proc.end_ns if proc.end_ns is not None else last
            said, past = _ending(proc, root_end, last)
            colour = RED if proc.failed else YELLOW if past else ""
            text = command_of(proc, next(argvs) if step is not None else None)
            rows.append((duration(proc.start_ns - origin), duration(end - proc.start_ns), str(proc.pid),
                         drawing, text, said, colour))
            if len(proc.execs) > 1:
                lead = below + ("│  " if proc.children else "   ")
                for number, current in enumerate(proc.execs):
                    until = proc.execs[number + 1].timestamp if number + 1 < len(proc.execs) else end
                    argv = next(exec_argvs)
                    text = (command_text(argv) if argv else "(empty argv)") + \
                        (" [argv truncated]" if current.truncated else "")
                    rows.append((duration(current.timestamp - origin), duration(until - current.timestamp), "",
                                 lead + "exec ", text, "", ""))
        yield rows


def _write(rows, widths: Tuple[int, int, int], options) -> str:
    """Rows -> their lines, the columns aligned, commands fitted and coloured as the options say."""
    start_width, time_width, pid_width = widths
    fitting = options is not None and options.width and not options.wide
    colouring = options is not None and options.color
    out = []
    for start, took, pid, drawing, text, said, colour in rows:
        head = f"{start:>{start_width}}  {took:>{time_width}}  {pid:>{pid_width}}  {drawing}"
        tail = f"  [{said}]" if said else ""
        if fitting:
            room = options.width - columns(head) - columns(tail)
            text = fit(text, max(room, _MIN_COMMAND))
        if colouring and colour:
            out.append(f"{head}{colour}{text}{tail}{RESET}\n")
        else:
            out.append(f"{head}{text}{tail}\n")
    return "".join(out)


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the tree as text, one line per process (and per exec of those with several)."""
    no_exit = sum(proc.end_ns is None for proc in recording.processes)
    header = "".join(f"warning: {line}\n" for line in notes(recording, no_exit=no_exit,
                                                             unforked=len(recording.unforked())))
    if len(recording.roots) > 1:
        header += (f"{len(recording.roots)} trees: some processes' parents are not in the recording "
                   f"(render --pid PID shows one tree)\n")
    # durations take at most 7 characters ("9.99 ms") below 10^6 s
    width = max(7, len(duration(recording.last_ns - recording.first_ns)))
    widths = (width, width, max(len(str(max((proc.pid for proc in recording.processes), default=0))), 3))
    yield (header + _write([("START", "TIME", "PID", "", "COMMAND", "", "")], widths, None)).encode("utf-8")
    for root in recording.roots:
        for rows in _lines(recording, root):
            yield _write(rows, widths, options).encode("utf-8")
