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

from proctrace.render.text import RED, RESET, YELLOW, columns, command_texts, duration, fit, notes, outcome

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterator, Optional, Tuple

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


def _ending(proc: Process, root_end: Optional[int], last_ns: int) -> Tuple[str, str]:
    """(what the line says of how the process ended, its colour: failed, outlived its root, or neither)."""
    said = outcome(proc)  # "" for a plain exit, "no exit seen" for none: anything else is a failure
    colour = RED if said and proc.end_ns is not None else ""
    if root_end is None or proc.end_ns is not None and proc.end_ns <= root_end:
        return said, colour
    if proc.end_ns is None:
        past = f"outlived the root by at least {duration(last_ns - root_end)}" if last_ns > root_end \
            else "outlived the root"
    else:
        past = f"outlived the root by {duration(proc.end_ns - root_end)}"
    return (said + ", " + past if said else past), colour or YELLOW


def _short(ns: int) -> str:
    return "%.2f ms" % (ns / 1e6) if ns < 10_000_000 else duration(ns)  # duration's, without a call most times


class _Layout:
    """How lines are written: the columns' widths, and whether commands are fitted and endings coloured."""

    __slots__ = ("time_width", "pid_width", "width", "color")

    def __init__(self, time_width: int, pid_width: int, options):
        self.time_width, self.pid_width = time_width, pid_width
        self.width = options.width if options is not None and options.width and not options.wide else None
        self.color = options is not None and options.color

    def line(self, start: str, took: str, pid: str, drawing: str, text: str, said: str, colour: str) -> str:
        head = f"{start:>{self.time_width}}  {took:>{self.time_width}}  {pid:>{self.pid_width}}  {drawing}"
        tail = f"  [{said}]" if said else ""
        if self.width:
            text = fit(text, max(self.width - columns(head) - columns(tail), _MIN_COMMAND))
        if colour and self.color:
            return f"{head}{colour}{text}{tail}{RESET}\n"
        return f"{head}{text}{tail}\n"


def _lines(recording: Recording, root: Process, layout: _Layout) -> Iterator[str]:
    """The tree of `root` as text, a piece of many lines at a time."""
    origin, last = recording.first_ns, recording.last_ns
    root_end = root.end_ns
    walk = _walk(root)
    line = layout.line
    plain = not layout.width  # lines need neither fitting nor (being plain) colour
    row = "%%%ds  %%%ds  %%%dd  %%s%%s\n" % (layout.time_width, layout.time_width, layout.pid_width)
    while True:
        piece = list(islice(walk, _PIECE))
        if not piece:
            return
        steps = [proc.command_step() for proc, _, _ in piece]
        execs = [proc.execs for proc, _, _ in piece]  # (a property that builds a list: read once)
        texts = iter(command_texts([step.cmdline for step in steps if step is not None]))
        exec_texts = iter(command_texts([step.cmdline for own in execs if len(own) > 1 for step in own]))
        out = []
        for (proc, drawing, below), step, own in zip(piece, steps, execs):
            end = proc.end_ns
            if end is not None and (root_end is None or end <= root_end) and not proc.failed:
                said = colour = ""  # nearly every process: ended well, within its root's life
            else:
                said, colour = _ending(proc, root_end, last)
                if end is None:
                    end = last
            if step is None:
                text = "(unknown command)" + ("" if own else " (fork)")
            else:
                text = next(texts) or "(empty argv)"
                if not own:
                    text += " (fork)"
                elif own[-1].truncated:
                    text += " [argv truncated]"
            # (durations formatted in line, as _short does: a call each would cost a tenth of the tree)
            start, took = proc.start_ns - origin, end - proc.start_ns
            start = "%.2f ms" % (start / 1e6) if start < 10_000_000 else duration(start)
            took = "%.2f ms" % (took / 1e6) if took < 10_000_000 else duration(took)
            if plain and not said:
                out.append(row % (start, took, proc.pid, drawing, text))  # (% is faster than an f-string here)
            else:
                out.append(line(start, took, str(proc.pid), drawing, text, said, colour))
            if len(own) > 1:
                lead = below + ("│  " if proc.children else "   ") + "exec "
                for number, current in enumerate(own):
                    until = own[number + 1].timestamp if number + 1 < len(own) else end
                    text = (next(exec_texts) or "(empty argv)") + (" [argv truncated]" if current.truncated else "")
                    out.append(line(_short(current.timestamp - origin), _short(until - current.timestamp), "",
                                    lead, text, "", ""))
        yield "".join(out)


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the tree as text, one line per process (and per exec of those with several)."""
    no_exit = sum(proc.end_ns is None for proc in recording.processes)
    header = "".join(f"warning: {line}\n" for line in notes(recording, no_exit=no_exit,
                                                             unforked=len(recording.unforked())))
    if len(recording.roots) > 1:
        header += (f"{len(recording.roots)} trees: some processes' parents are not in the recording "
                   f"(render --pid PID shows one tree)\n")
    # durations take 7 characters ("9.99 ms", "99999.9 s") for recordings under a day
    layout = _Layout(max(7, len(duration(recording.last_ns - recording.first_ns))),
                     max(len(str(max((proc.pid for proc in recording.processes), default=0))), 3), options)
    yield (header + _Layout(layout.time_width, layout.pid_width, None).line("START", "TIME", "PID", "", "COMMAND",
                                                                             "", "")).encode("utf-8")
    for root in recording.roots:
        for text in _lines(recording, root, layout):
            yield text.encode("utf-8")
