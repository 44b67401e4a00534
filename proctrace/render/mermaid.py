"""A Mermaid gantt chart of the process tree: one bar per process, fork to exit.

Bars come in tree order (each process followed by its children, by start
time), labelled with the program, its arguments and pid; a process that
exec'd more than once also gets a section with a bar per exec.  The time
axis is milliseconds from the first event.  Labels are written so that
Mermaid reads every task line as a task (see mermaid_labels.py), and
shortened to the room their bar leaves on a chart laid out 1200 px wide
(its first line fixes that width: a chart drawn narrower is scaled down
whole, so no label is cut off); the recording keeps the full command.
Mermaid draws nothing at all above 50,000 characters, so unless told to
draw everything the chart leaves out the shortest leaf processes until it
fits, and says so in its title (see mermaid_fit.py).

    %%{init: {"gantt": {"useWidth": 1200}}}%%
    gantt
        title Process Trace
        dateFormat x
        ...
        #109;ake -j8 (pid 4242, 812 ms) :active, 0, 813ms
"""

from __future__ import annotations

from itertools import islice

from proctrace.model import ExecStep, Process, Recording
from proctrace.render.mermaid_fit import MAX_TEXT_SIZE, fitted, shown_duration
from proctrace.render.mermaid_labels import command_text, escape_label, escape_text, fit, fit_label
from proctrace.render.text import duration as _duration, signal_name

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, List, Tuple

__all__ = ["render", "MAX_TEXT_SIZE", "escape_label", "command_label", "Scale", "process_line", "exec_section",
           "chart_head"]


# Mermaid's gantt layout (mermaid 11: ganttRenderer.js and its defaults),
# in px of the chart's own width, which the chart fixes (`useWidth`).
WIDTH = 1200
SIDE = 75       # leftPadding = rightPadding: the bars span WIDTH - 2 * SIDE
EM = 11         # fontSize, px
MARGIN = 0.9    # of the room a label gets: fonts differ a little


def command_label(cmdline, *, limit: int = 100) -> str:
    """A readable one-line command: the program's name and its arguments, at most `limit` characters."""
    return fit(command_text(cmdline), 1 << 62, limit=limit)


class Scale:
    """Where Mermaid puts a bar, and how much room that leaves its label (in hundredths of an em).

    Mermaid spreads the time from the first bar's start to the last bar's
    end over WIDTH - 2 * SIDE px.  A label goes inside its bar when it fits
    there, else to the right of it when it fits before the chart's right
    edge (less 1.5 * SIDE), else to the left of the bar, ending 5 px after
    its start; only there can it run past the edge (see fit_label).
    """

    __slots__ = ("first_ms", "span_ms")

    def __init__(self, first_ms: int, last_ms: int):
        self.first_ms = first_ms
        self.span_ms = max(last_ms - first_ms, 1)

    @classmethod
    def of(cls, procs: Iterable[Process], origin_ns: int, last_ns: int) -> Scale:
        """The scale of a chart of these processes' bars (an exec's bar lies within its process's)."""
        first = end = None
        for proc in procs:
            start, stop = proc.start_ns, proc.end_ns if proc.end_ns is not None else last_ns
            if first is None or start < first:
                first = start
            if end is None or stop > end:
                end = stop
        if first is None:
            return cls(0, 1)
        start_ms = (first - origin_ns) // 1_000_000
        return cls(start_ms, max(-(-(end - origin_ns) // 1_000_000), start_ms + 1))

    def rooms(self, start_ms: int, end_ms: int) -> Tuple[int, int]:
        """(the room left of the bar, the larger of the rooms inside and right of it), in hundredths of an em."""
        bars = WIDTH - 2 * SIDE
        left = round((start_ms - self.first_ms) * bars / self.span_ms)
        right = round((end_ms - self.first_ms) * bars / self.span_ms)
        scale = MARGIN * 100 / EM
        return int((left + SIDE - 5) * scale), int(max(right - left, WIDTH - 1.5 * SIDE - right) * scale)


def _task(command: str, suffix: str, tag: str, start_ns: int, stop_ns: int, origin_ns: int, scale: Scale) -> str:
    # Mermaid takes whole milliseconds only (a fraction makes an invalid date
    # or an empty bar), so a bar covers every millisecond the process touched
    # and the label says how long it really ran.
    start_ms = (start_ns - origin_ns) // 1_000_000
    length_ms = max(-(-(stop_ns - origin_ns) // 1_000_000) - start_ms, 1)
    label = escape_label(fit_label(command, suffix, *scale.rooms(start_ms, start_ms + length_ms)))
    return f"    {label} :{tag}, {start_ms}, {length_ms}ms\n"


def _outcome(proc: Process) -> Tuple[str, str]:
    """(what the label says of how it ended, the bar's tag)."""
    if proc.end_ns is None:
        return " [no exit seen]", "done"
    if proc.signal is not None:
        return f" [killed by {signal_name(proc.signal)}]", "crit"
    if proc.exit_code:
        return f" [exit {proc.exit_code}]", "crit"
    return "", "active"


def _command(step: ExecStep) -> str:
    cmdline = step.cmdline
    return command_text(cmdline) if cmdline else command_text((), step.filename)  # (the filename costs a decode)


def process_line(proc: Process, origin_ns: int, last_ns: int, scale: Scale) -> str:
    """Its bar's task line: what it ran (its parent's program, if it never exec'd), its pid and how it ended."""
    step = proc.command_step()
    command = (_command(step) if step is not None else "") or "(unknown command)"
    execs = proc.execs
    marker = " (fork)" if not execs else " [argv truncated]" if execs[-1].truncated else ""
    stop_ns = proc.end_ns if proc.end_ns is not None else last_ns
    outcome, tag = _outcome(proc)
    suffix = f"{marker} (pid {proc.pid}, {_duration(stop_ns - proc.start_ns)}){outcome}"
    return _task(command, suffix, tag, proc.start_ns, stop_ns, origin_ns, scale)


def exec_section(proc: Process, origin_ns: int, last_ns: int, scale: Scale) -> str:
    """A section with a bar per exec, for a process that exec'd more than once ("" otherwise)."""
    execs = proc.execs
    if len(execs) < 2:
        return ""
    stop_ns = proc.end_ns if proc.end_ns is not None else last_ns
    tasks = [f"    section {escape_text(f'execs of pid {proc.pid}')}\n"]
    for step, following in zip(execs, list(execs[1:]) + [None]):
        until = following.timestamp if following is not None else stop_ns
        text = _command(step) or "(empty argv)"
        tasks.append(_task(text, f" ({_duration(until - step.timestamp)})", "active", step.timestamp, until,
                           origin_ns, scale))
    return "".join(tasks)


def _section(recording: Recording, root: Process) -> str:
    name = "processes" if len(recording.roots) == 1 else f"tree of pid {root.pid}"
    return f"    section {escape_text(name)}\n"


def chart_head(recording: Recording) -> str:
    """Everything before the first section: the fixed width, the title (what is missing or hidden) and the axis."""
    notes = []
    if recording.lost:
        notes.append(f"incomplete: {recording.lost_count} events lost")
    if recording.hidden:
        notes.append(f"{recording.hidden} processes under {shown_duration(recording.hidden_below_ns)} hidden")
    title = "Process Trace" + (f" ({'; '.join(notes)})" if notes else "")
    # seconds.milliseconds wrap after a minute: longer recordings show minutes
    axis = "%S.%L" if recording.last_ns - recording.first_ns < 60_000_000_000 else "%H:%M:%S"
    return (f'%%{{init: {{"gantt": {{"useWidth": {WIDTH}}}}}}}%%\ngantt\n    title {escape_text(title)}\n'
            f"    dateFormat x\n    axisFormat {axis}\n    todayMarker off\n\n")


def _tree_order(roots: List[Process]) -> Iterator[Process]:
    stack = list(reversed(roots))
    while stack:
        proc = stack.pop()
        yield proc
        stack.extend(reversed(proc.children))  # children are in order of start already


def _chart(recording: Recording) -> Iterator[str]:
    """The chart, in pieces of many lines each."""
    origin, last = recording.first_ns, recording.last_ns
    scale = Scale.of(recording.processes, origin, last)
    yield chart_head(recording)
    for root in recording.roots:
        yield _section(recording, root)
        procs = _tree_order([root])
        while True:
            piece = list(islice(procs, _TASKS_PER_PIECE))
            if not piece:
                break
            yield "".join([process_line(proc, origin, last, scale) for proc in piece])
    yield "".join([exec_section(proc, origin, last, scale) for proc in recording.processes if len(proc.execs) > 1])


_TASKS_PER_PIECE = 4096


def _cost(recording: Recording) -> Callable[[Process], int]:
    """What each process adds to the chart, in characters, laid out on the whole recording's time axis."""
    origin, last = recording.first_ns, recording.last_ns
    scale = Scale(0, -(-(last - origin) // 1_000_000))
    roots = set(recording.roots)

    def cost(proc: Process) -> int:
        size = len(process_line(proc, origin, last, scale)) + len(exec_section(proc, origin, last, scale))
        return size + len(_section(recording, proc)) if proc in roots else size
    return cost


def _chart_size(recording: Recording) -> int:
    return sum(map(len, _chart(recording)))


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the text of a Mermaid gantt chart (ASCII only: its labels are escaped)."""
    if options is None or not options.everything:
        fitted(recording, warn=warn, cost=_cost(recording), chart_size=_chart_size)
    size = 0
    for piece in _chart(recording):
        size += len(piece)
        yield piece.encode("ascii")
    if size > MAX_TEXT_SIZE:
        warn(f"the chart is {size} characters; Mermaid refuses more than {MAX_TEXT_SIZE} "
             f"by default and draws an error instead: raise maxTextSize in your Mermaid "
             f"configuration, or render a part of the recording")
