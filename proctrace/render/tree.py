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

from itertools import compress, count, repeat
from operator import attrgetter, gt, ne, sub

from proctrace.model import collector_paused, raw_fields_of
from proctrace.render.text import RED, RESET, YELLOW, columns, command_texts, duration, durations, fit, notes, outcome

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterator, List, Optional, Tuple

    from proctrace.model import ExecStep, Process, Recording

__all__ = ["render"]

_PIECE = 4096        # processes whose lines are made and written together
_MIN_COMMAND = 12    # columns a command keeps however narrow the terminal


def _walk(root: Process, size: int) -> Iterator[Tuple[List[Process], List[str]]]:
    """The tree of `root` depth first, `size` processes at a time, with their drawings (siblings
    but the last share theirs)."""
    stack = [(root, "")]
    procs: List[Process] = []
    drawings: List[str] = []
    while stack:  # a loop, not recursion: fork chains can be deep
        proc, drawing = stack.pop()
        procs.append(proc)
        drawings.append(drawing)
        children = proc.children
        if children:  # the first child on top
            below = _below(drawing)
            stack.append((children[-1], below + "└─ "))
            if len(children) > 1:
                stack.extend(zip(children[-2::-1], repeat(below + "├─ ")))
        if len(procs) == size:
            yield procs, drawings
            procs, drawings = [], []
    if procs:
        yield procs, drawings


def _below(drawing: str) -> str:
    """What the lines under a process (its execs, its children) draw where it has its drawing."""
    return drawing[:-3] + ("   " if drawing.endswith("└─ ") else "│  ") if drawing else ""


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
    """The tree of `root` as text, a piece of many lines at a time.

    Each column of a piece is made in one pass (a C loop where it can be),
    and the lines of the usual processes are the columns joined; the few
    that need more (a failure, an exec of several, a process that outlived
    its root) are made again one at a time.
    """
    origin, last = recording.first_ns, recording.last_ns
    root_end = root.end_ns
    line = layout.line
    for procs, drawings in _walk(root, _PIECE):
        execs = [proc.execs for proc in procs]  # (a property that builds a list: read once)
        steps = [own[-1] if own else proc.command_step() for proc, own in zip(procs, execs)]
        known = [step for step in steps if step is not None]
        rests = raw_fields_of(known)
        texts = command_texts(rests)
        if "" in texts:
            texts = [text or "(empty argv)" for text in texts]
        if len(known) < len(steps):
            found = iter(texts)
            texts = [next(found) if step is not None else "(unknown command)" for step in steps]
        starts = list(map(attrgetter("start_ns"), procs))
        ends = list(map(attrgetter("end_ns"), procs))
        # what the usual line lacks: a mark, an ending to say, execs to list
        odd = set(compress(count(), map(ne, map(len, execs), repeat(1))))
        odd.update(compress(count(), map(attrgetter("failed"), procs)))
        if None in ends:
            odd.update(index for index, end in enumerate(ends) if end is None)
            ends = [last if end is None else end for end in ends]
        if root_end is not None:
            odd.update(compress(count(), map(gt, ends, repeat(root_end))))
        if b',"cmdline_truncated":true' in b"".join(rests):
            odd.update(index for index, own in enumerate(execs) if own and own[-1].truncated)
        # (padded as the line pads them: layout.line leaves them as they are)
        took = durations(map(sub, ends, starts), layout.time_width)
        starts = durations([start - origin for start in starts], layout.time_width)
        pids = list(map(str.rjust, map(str, map(attrgetter("pid"), procs)), repeat(layout.pid_width)))
        if layout.width:
            out = list(map(line, starts, took, pids, drawings, texts, repeat(""), repeat("")))
        else:
            out = list(map("".join, zip(starts, repeat("  "), took, repeat("  "), pids, repeat("  "), drawings, texts,
                                        repeat("\n"))))
        for index in sorted(odd):
            proc, own = procs[index], execs[index]
            said, colour = _ending(proc, root_end, last)
            text = texts[index]
            if not own:
                text += " (fork)"
            elif own[-1].truncated:
                text += " [argv truncated]"
            out[index] = line(starts[index], took[index], pids[index], drawings[index], text, said, colour)
            if len(own) > 1:
                lead = _below(drawings[index]) + ("│  " if proc.children else "   ") + "exec "
                out[index] += "".join(_exec_lines(own, ends[index], origin, lead, line))
        yield "".join(out)


def _exec_lines(own: List[ExecStep], end: int, origin: int, lead: str, line: Callable[..., str]) -> Iterator[str]:
    """A line per exec of a process that exec'd more than once, each until the next or the process's end."""
    texts = command_texts(raw_fields_of(own))
    for number, (step, text) in enumerate(zip(own, texts)):
        until = own[number + 1].timestamp if number + 1 < len(own) else end
        text = (text or "(empty argv)") + (" [argv truncated]" if step.truncated else "")
        yield line(duration(step.timestamp - origin), duration(until - step.timestamp), "", lead, text, "", "")


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
    with collector_paused():  # each piece's columns are lists that hold no cycles: nothing to collect
        for root in recording.roots:
            for text in _lines(recording, root, layout):
                yield text.encode("utf-8")
