"""A Mermaid gantt chart of the whole process tree: one bar per process, fork to exit.

Bars come in tree order (each process followed by its children, by start
time), labelled with the command and pid; a process that exec'd more than
once also gets a section with a bar per exec.  The time axis is
milliseconds from the first event.  Labels are escaped so that Mermaid
neither cuts them (`:`), reads them as comments (`%`), as entities (`#`) or
as statements (a label starting with `section`), and long ones are
shortened; the recording keeps the full command.

    gantt
        dateFormat x
        make -j8 (pid 4242, 812 ms) :active, 0, 813ms
"""

from __future__ import annotations

import re

from itertools import islice

from proctrace.model import ExecStep, Process, Recording

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterator, List, Optional, Tuple

__all__ = ["render", "MAX_TEXT_SIZE", "escape_label", "command_label"]

# Mermaid draws an error instead of a chart above this many characters.
MAX_TEXT_SIZE = 50_000
MAX_LABEL = 100

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
                7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
                13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}

# /nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname -> <store>/dirname
NIX_STORE = re.compile(r"/nix/store/[0-9a-z]{32}-[^/\s]*/(?:s?bin/)?")
# what Mermaid would read as a statement, were it at the start of a task line
KEYWORD_AT_LINE_START = re.compile(
    r"\n(?i:section|title|includes|excludes|dateformat|axisformat|tickinterval|todaymarker"
    r"|topaxis|inclusiveenddates|weekday|click|gantt|\d{4}-\d{2}-\d{2})")
UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
NEEDS_QUOTES = re.compile(r"[\s'\"]")


def _show_unprintable(match: re.Match) -> str:
    char = match.group()
    if char in ESCAPES:
        return ESCAPES[char]
    code = ord(char)
    if 0xD800 <= code < 0xDC80 or code > 0xDCFF:
        return "\\u%04x" % code  # a lone surrogate that stands for no byte
    return "\\x%02x" % (code - 0xDC00 if code >= 0xDC80 else code)


def command_label(cmdline, *, limit: int = MAX_LABEL) -> str:
    """A readable one-line command: shell-like quoting, store paths shortened, at most `limit` chars."""
    text = " ".join(cmdline)
    plain = (text.isprintable() and text.count(" ") == len(cmdline) - 1 and "" not in cmdline
             and "'" not in text and '"' not in text)
    if not plain:
        if len(text.split()) != len(cmdline) or "'" in text or '"' in text or text.strip() != text:
            # some argument is empty or holds blanks or quotes: quote those
            text = " ".join("'" + arg.replace("'", "'\\''") + "'" if not arg or NEEDS_QUOTES.search(arg) else arg
                            for arg in cmdline)
    if "/nix/store/" in text:
        text = NIX_STORE.sub("<store>/", text)
    if not plain and UNPRINTABLE.search(text):
        text = UNPRINTABLE.sub(_show_unprintable, text)
    return _shortened(text, limit)


def _shortened(text: str, limit: int) -> str:
    if len(text) > limit:
        head = limit * 2 // 3
        text = text[:head] + "…" + text[-(limit - head - 1):]
    return text


def _commands(steps: List[Optional[ExecStep]]) -> Tuple[List[str], bool]:
    """The escaped command label of each step ("" for None), and whether one may be truncated."""
    return escape_labels([command_label(step.cmdline) if step is not None else "" for step in steps]), True


def escape_label(text: str) -> str:
    """Text -> a label Mermaid shows as it is (its entity escapes for the risky characters)."""
    return escape_labels([text])[0]


def escape_labels(texts: List[str]) -> List[str]:
    """escape_label for many labels, with a few passes over them all, not a few each.

    In a task line ':' ends the label, '%' starts a comment, '#...;' is an
    entity and ';' ends the statement, so all four become entities; a label
    that starts with a keyword (section, title, ...) has its first letter
    written as an entity, so it is not read as that statement.

    Labels hold no newline or other control character (command_label writes
    them as \\n, \\x01, ...), so joined by newlines they stay apart, a keyword
    after a newline is one at a label's start, and control characters can
    stand in for '#' and ';' while the others get entities that use them.
    """
    text = "\n" + "\n".join(texts)
    if "#" in text or ";" in text or ":" in text or "%" in text:
        text = text.replace("#", "\x00").replace(";", "\x01")
        text = text.replace(":", "#58;").replace("%", "#37;")
        text = text.replace("\x00", "#35;").replace("\x01", "#59;")
    text = KEYWORD_AT_LINE_START.sub(_entity_first, text)
    return text[1:].split("\n")


def _entity_first(match: re.Match) -> str:
    word = match.group()  # a newline, then the keyword
    return "\n#%d;%s" % (ord(word[1]), word[2:])


def _outcome(proc: Process) -> Tuple[str, str]:
    """(what the label says of how it ended, the bar's tag)."""
    if proc.end_ns is None:
        return " [no exit seen]", "done"
    if proc.signal is not None:
        return f" [killed by {SIGNAL_NAMES.get(proc.signal, 'signal %d' % proc.signal)}]", "crit"
    if proc.exit_code:
        return f" [exit {proc.exit_code}]", "crit"
    return "", "active"


def _task(label: str, tag: str, start_ns: int, end_ns: int, origin_ns: int) -> str:
    # whole milliseconds only: see _process_tasks
    start_ms = (start_ns - origin_ns) // 1_000_000
    end_ms = -(-(end_ns - origin_ns) // 1_000_000)
    return f"    {label} :{tag}, {start_ms}, {max(end_ms - start_ms, 1)}ms\n"


def _duration(ns: int) -> str:
    if ns >= 10_000_000_000:
        return "%.1f s" % (ns / 1e9)
    if ns >= 1_000_000_000:
        return "%.2f s" % (ns / 1e9)
    if ns >= 10_000_000:
        return "%.0f ms" % (ns / 1e6)
    return "%.2f ms" % (ns / 1e6)


def _tree_order(roots: List[Process]) -> Iterator[Process]:
    stack = list(reversed(roots))
    while stack:
        proc = stack.pop()
        yield proc
        stack.extend(reversed(proc.children))  # children are in order of start already


def _process_tasks(procs: List[Process], origin_ns: int, last_ns: int) -> str:
    """A bar a process: what it ran (its parent's program, if it never exec'd), its pid and how it ended.

    Only the commands need escaping: what the label adds to them holds none
    of the characters escape_labels changes and starts with a blank, so
    escaping the commands alone gives the same labels, with less text to scan.
    This runs once a process, so it spends few calls: a process that ended
    well is told from the others, and a short duration formatted, in line.
    """
    commands, truncation = _commands([proc.command_step() for proc in procs])
    tasks = []
    for proc, command in zip(procs, commands):
        if not proc.execs:
            command = (command or "(unknown command)") + " (fork)"
        elif not command or truncation:
            command = (command or "(unknown command)") + (" [argv truncated]" if proc.execs[-1].truncated else "")
        start_ns, stop_ns = proc.start_ns, proc.end_ns
        if stop_ns is None:
            stop_ns = last_ns
            outcome, tag = _outcome(proc)
        elif proc.signal is None and not proc.exit_code:
            outcome, tag = "", "active"
        else:
            outcome, tag = _outcome(proc)
        ns = stop_ns - start_ns
        duration = "%.2f ms" % (ns / 1e6) if ns < 10_000_000 else _duration(ns)  # as _duration does
        # Mermaid takes whole milliseconds only (a fraction makes an invalid date
        # or an empty bar), so a bar covers every millisecond the process touched
        # and the label says how long it really ran.
        start_ms = (start_ns - origin_ns) // 1_000_000
        length_ms = max(-(-(stop_ns - origin_ns) // 1_000_000) - start_ms, 1)
        tasks.append(f"    {command} (pid {proc.pid}, {duration}){outcome} :{tag}, {start_ms}, {length_ms}ms\n")
    return "".join(tasks)


def _chart(recording: Recording) -> Iterator[str]:
    """The chart, in pieces of many lines each."""
    origin, end = recording.first_ns, recording.last_ns
    title = "Process Trace"
    if recording.lost:
        title += f" (incomplete: {recording.lost_count} events lost)"
    # seconds.milliseconds wrap after a minute: longer recordings show minutes
    axis = "%S.%L" if end - origin < 60_000_000_000 else "%H:%M:%S"
    yield (f"gantt\n    title {escape_label(title)}\n    dateFormat x\n    axisFormat {axis}\n"
           f"    todayMarker off\n\n")
    for root in recording.roots:
        name = "processes" if len(recording.roots) == 1 else f"tree of pid {root.pid}"
        yield f"    section {name}\n"
        procs = _tree_order([root])
        while True:
            piece = list(islice(procs, _TASKS_PER_PIECE))
            if not piece:
                break
            yield _process_tasks(piece, origin, end)
    for proc in recording.processes:
        if len(proc.execs) < 2:
            continue
        stop = proc.end_ns if proc.end_ns is not None else end
        tasks = [f"    section execs of pid {proc.pid}\n"]
        commands, _ = _commands(proc.execs)  # escaped: what follows them needs no escaping
        for step, following, command in zip(proc.execs, list(proc.execs[1:]) + [None], commands):
            until = following.timestamp if following is not None else stop
            label = f"{command or '(empty argv)'} ({_duration(until - step.timestamp)})"
            tasks.append(_task(label, "active", step.timestamp, until, origin))
        yield "".join(tasks)


_TASKS_PER_PIECE = 4096


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> the text of a Mermaid gantt chart."""
    size = 0
    for piece in _chart(recording):
        size += len(piece)
        yield piece.encode("utf-8")
    if size > MAX_TEXT_SIZE:
        warn(f"the chart is {size} characters; Mermaid refuses more than {MAX_TEXT_SIZE} "
             f"by default and draws an error instead: raise maxTextSize in your Mermaid "
             f"configuration, or render a part of the recording")
