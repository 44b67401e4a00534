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
from typing import Callable, Iterable, Iterator, List

from itertools import chain, islice

from proctrace.model import Process, Recording, fold_processes

__all__ = ["render", "DESCRIPTION", "STREAMING", "HELPER_SHARE", "MAX_TEXT_SIZE", "escape_label", "command_label"]

DESCRIPTION = "a Mermaid gantt chart of the process tree"
STREAMING = False
# of every n chunks, how many a helper process checks (see parallel.py): folding and labelling keep the main process busy
HELPER_SHARE = (1, 1)

# Mermaid draws an error instead of a chart above this many characters.
MAX_TEXT_SIZE = 50_000
MAX_LABEL = 100

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
                7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
                13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}

# /nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname -> <store>/dirname
NIX_STORE = re.compile(r"/nix/store/[0-9a-z]{32}-[^/\s]*/(?:s?bin/)?")
# what Mermaid would read as a statement, were it at the start of a task line
KEYWORD_START = re.compile(
    r"(?i)(section|title|includes|excludes|dateformat|axisformat|tickinterval|todaymarker"
    r"|topaxis|inclusiveenddates|weekday|click|gantt|\d{4}-\d{2}-\d{2})")
UNPRINTABLE = re.compile("[\x00-\x1f\x7f\udc80-\udcff]")
ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
NEEDS_QUOTES = re.compile(r"[\s'\"]")
# ':' ends a label, '%' starts a comment, '#…;' is an entity, ';' ends a statement
RISKY = re.compile("[#:;%]")


def _entity(match: re.Match) -> str:
    return "#%d;" % ord(match.group())


def _show_unprintable(match: re.Match) -> str:
    char = match.group()
    if char in ESCAPES:
        return ESCAPES[char]
    code = ord(char)
    return "\\x%02x" % (code - 0xDC00 if code >= 0xDC80 else code)


def command_label(cmdline, *, limit: int = MAX_LABEL) -> str:
    """A readable one-line command: shell-like quoting, store paths shortened, at most `limit` chars."""
    text = " ".join(cmdline)
    if len(text.split()) != len(cmdline) or "'" in text or '"' in text or text.strip() != text:
        # some argument is empty or holds blanks or quotes: quote those
        text = " ".join("'" + arg.replace("'", "'\\''") + "'" if not arg or NEEDS_QUOTES.search(arg) else arg
                        for arg in cmdline)
    if "/nix/store/" in text:
        text = NIX_STORE.sub("<store>/", text)
    if UNPRINTABLE.search(text):
        text = UNPRINTABLE.sub(_show_unprintable, text)
    if len(text) > limit:
        head = limit * 2 // 3
        text = text[:head] + "…" + text[-(limit - head - 1):]
    return text


def escape_label(text: str) -> str:
    """Text -> a label Mermaid shows as it is (its entity escapes for the risky characters)."""
    text = RISKY.sub(_entity, text)
    if KEYWORD_START.match(text):
        text = "#%d;%s" % (ord(text[0]), text[1:])
    return text


def _status(proc: Process) -> str:
    if proc.end_ns is None:
        return " [no exit seen]"
    if proc.signal is not None:
        return f" [killed by {SIGNAL_NAMES.get(proc.signal, 'signal %d' % proc.signal)}]"
    if proc.exit_code:
        return f" [exit {proc.exit_code}]"
    return ""


def _tag(proc: Process) -> str:
    if proc.end_ns is None:
        return "done"
    if proc.signal is not None or proc.exit_code:
        return "crit"
    return "active"


def _task(label: str, tag: str, start_ns: int, end_ns: int, origin_ns: int) -> str:
    # Mermaid takes whole milliseconds only (a fraction makes an invalid date or
    # an empty bar), so a bar covers every millisecond the process touched and
    # the label says how long it really ran.
    start_ms = (start_ns - origin_ns) // 1_000_000
    end_ms = -(-(end_ns - origin_ns) // 1_000_000)
    return f"    {escape_label(label)} :{tag}, {start_ms}, {max(end_ms - start_ms, 1)}ms"


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
        stack.extend(sorted(proc.children, key=lambda child: child.start_ns, reverse=True))


def _process_label(proc: Process, stop_ns: int) -> str:
    command = command_label(proc.command) or "(unknown command)"
    if proc.execs and proc.execs[-1].truncated:
        command += " [argv truncated]"
    fork = "" if proc.execs else " (fork)"
    return f"{command}{fork} (pid {proc.pid}, {_duration(stop_ns - proc.start_ns)}){_status(proc)}"


def _chart(recording: Recording) -> Iterator[str]:
    origin, end = recording.first_ns, recording.last_ns
    title = "Process Trace"
    if recording.lost:
        title += f" (incomplete: {recording.lost} events lost)"
    yield "gantt"
    yield f"    title {escape_label(title)}"
    yield "    dateFormat x"
    # seconds.milliseconds wrap after a minute: longer recordings show minutes
    yield "    axisFormat %S.%L" if end - origin < 60_000_000_000 else "    axisFormat %H:%M:%S"
    yield "    todayMarker off"
    yield ""
    for index, root in enumerate(recording.roots):
        name = "processes" if len(recording.roots) == 1 else f"tree of pid {root.pid}"
        yield f"    section {name}"
        for proc in _tree_order([root]):
            stop = proc.end_ns if proc.end_ns is not None else end
            yield _task(_process_label(proc, stop), _tag(proc), proc.start_ns, stop, origin)
    for proc in recording.processes:
        if len(proc.execs) < 2:
            continue
        yield f"    section execs of pid {proc.pid}"
        stop = proc.end_ns if proc.end_ns is not None else end
        for step, following in zip(proc.execs, list(proc.execs[1:]) + [None]):
            until = following.timestamp if following is not None else stop
            label = f"{command_label(step.cmdline) or '(empty argv)'} ({_duration(until - step.timestamp)})"
            yield _task(label, "active", step.timestamp, until, origin)


def render(batches: Iterable[list], *, warn: Callable[[str], None]) -> Iterator[bytes]:
    """Batches of records in timestamp order -> the text of a Mermaid gantt chart."""
    recording = fold_processes(chain.from_iterable(batches))
    size = 0
    lines = _chart(recording)
    while True:
        piece = "".join(line + "\n" for line in islice(lines, _LINES_PER_WRITE))
        if not piece:
            break
        size += len(piece)
        yield piece.encode("utf-8")
    if size > MAX_TEXT_SIZE:
        warn(f"the chart is {size} characters; Mermaid refuses more than {MAX_TEXT_SIZE} "
             f"by default and draws an error instead: raise maxTextSize in your Mermaid "
             f"configuration, or render a part of the recording")


_LINES_PER_WRITE = 2048
