"""A diff.Comparison -> the text `proctrace diff` shows, or its one JSON object.

Commands are hostile text (any bytes a program was given), so the text
report escapes every character that is not printable, with one rule and no
gaps: a character is shown as it is when str.isprintable() says so and it
is not a backslash; otherwise it is written as an escape, each of which
reads back as exactly one thing:

    \\\\   a backslash          \\t \\n \\r  tab, newline, carriage return
    \\xNN  a byte that is not UTF-8 (NN >= 80), or an ASCII control (NN < 80)
    \\uNNNN, \\UNNNNNNNN  any other character: C1 controls, format and bidi
           characters, separators other than the space, lone surrogates, ...

Arguments that are empty or hold blanks, quotes or shell metacharacters are
put in single quotes, so that the words of a command can be told apart,
and the commands of a key are joined with "; " as in folded stacks.  The
JSON keeps every command whole, as UTF-8, with lone surrogates as \\u
escapes.

      0 → 1         —    1.00 s              +1.00 s   make -j2; sh -c 'cc -O2 -Wall -c slo… sleep $SLOW'; sleep 1
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

    from proctrace.diff import Change, Comparison

__all__ = ["text_report", "json_report", "command_text", "escape_text", "format_ns"]

ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# what makes an argument need quotes: shlex.quote's rule, but letters of any script and <> are
# safe (the placeholders of diff.normalise_command: <pid>, <tmp>)
NEEDS_QUOTES = re.compile(r"[^\w@%+=:,./<>-]")
SURROGATE = re.compile("[\ud800-\udfff]")
# a character of escaped text, or an escape whole: every backslash in it starts one
UNIT = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)|.", re.S)
ANCESTOR_LIMIT = 40   # characters of each command above the last, unless --wide
COMMAND_LIMIT = 72    # characters of the last command of a key, unless --wide
NOTE_ONLY_A = "a step missing from B is often a cache hit or a skipped step"


def _escape_char(char: str) -> str:
    short = ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x80:
        return "\\x%02x" % code
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte it stands for
        return "\\x%02x" % (code - 0xDC00)
    return "\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code


def escape_text(text: str) -> str:
    """Text -> the same with every unprintable character (and the backslash) escaped."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(char if char.isprintable() and char != "\\" else _escape_char(char) for char in text)


def _word(arg: str) -> str:
    text = escape_text(arg)
    if text and not NEEDS_QUOTES.search(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def command_text(command: Sequence[str], limit: Optional[int] = None) -> str:
    """An argv as one line of printable text, its words told apart; cut in the middle past `limit`."""
    text = " ".join(map(_word, command)) if command else "(no exec)"
    if limit is not None and len(text) > limit:
        text = _shortened(text, limit)
    return text


def _shortened(text: str, limit: int) -> str:
    """Its first two thirds and its end, joined by an ellipsis, never cutting an escape in two:
    the end of `\\\\x1b` (a backslash, then x1b) must not read as an escape."""
    units = UNIT.findall(text)
    head_size, tail_size = limit * 2 // 3, limit - limit * 2 // 3 - 1
    head, size = 0, 0
    while size + len(units[head]) <= head_size:
        size += len(units[head])
        head += 1
    tail, size = len(units), 0
    while tail > head and size + len(units[tail - 1]) <= tail_size:
        tail -= 1
        size += len(units[tail])
    return "".join(units[:head]) + "…" + "".join(units[tail:])


def key_text(key: Sequence[Sequence[str]], wide: bool = False) -> str:
    """A key, root first, as in folded stacks; the commands above the last are shortened more."""
    last = len(key) - 1
    return "; ".join(command_text(command, None if wide else COMMAND_LIMIT if level == last else ANCESTOR_LIMIT)
                     for level, command in enumerate(key))


def format_ns(ns: int) -> str:
    """A duration with three significant digits: 812 ms, 1.32 s, 48.1 µs."""
    size = abs(ns)
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000)):
        if size >= scale:
            value = size / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return "%s%.*f %s" % ("-" if ns < 0 else "", digits, value, unit)
    return f"{ns} ns"


def _delta(a: int, b: int, *, duration: bool = True, percent: bool = True) -> str:
    """b - a, signed; for a duration also as a share of a."""
    delta = b - a
    text = (format_ns(delta) if duration else str(delta)) if delta else "0"
    if delta > 0:
        text = "+" + text
    if duration and percent and a and delta:
        text += " (%+.1f%%)" % (delta * 100 / a)
    return text


def _table(rows: List[Tuple[str, ...]], right: int, *, left: int = 0) -> List[str]:
    """A heading row and rows of cells -> aligned lines (or "nothing" under the heading).

    The first `left` columns are left-aligned, the next `right` ones
    right-aligned, the others left-aligned; the last is never padded.
    """
    if len(rows) == 1:
        return ["  nothing"]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.rjust(width) if left <= column < left + right else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(row, widths))]
        lines.append(("  " + "   ".join(cells + [row[-1]])).rstrip())
    return lines


def _hidden(count: int, one: str, many: str, comparison: Comparison) -> str:
    """How many rows the noise gate hid, and what the gate is."""
    gate = format_ns(comparison.min_delta_ns).replace(".00 ", " ")
    return f"{count} {one if count == 1 else many} hidden: |Δ| < {gate} and < {comparison.min_percent:g}% of A"


def text_report(comparison: Comparison, names: Tuple[str, str], *, wide: bool = False) -> bytes:
    """The report a person reads: headline, changed keys, one-sided keys, the critical paths."""
    c = comparison
    limit = None if wide else COMMAND_LIMIT
    lines = [f"A: {escape_text(names[0])}: {command_text(c.roots[0], limit)}",
             f"B: {escape_text(names[1])}: {command_text(c.roots[1], limit)}", ""]
    lines += _table([("", "A", "B", "Δ"),
                     ("wall time", *_pair(c.wall_ns), _delta(*c.wall_ns)),
                     ("critical path", *_pair(c.critical_path_ns), _delta(*c.critical_path_ns)),
                     ("processes", *map(str, c.processes), _delta(*c.processes, duration=False)),
                     ("failures", *map(str, c.failures), _delta(*c.failures, duration=False))], 2, left=1)
    by = "commands from the root down" if c.key_mode == "path" else "the command alone"
    lines += ["", f"changed, by |Δ| (key: {by}; {_hidden(c.hidden, 'key', 'keys', c)})"]
    lines += _table([("count", "A", "B", "Δ", "key")] +
                    [(f"{change.count[0]} → {change.count[1]}", _maybe(change.time_ns[0] if change.count[0] else None),
                      _maybe(change.time_ns[1] if change.count[1] else None),
                      _delta(*change.time_ns), key_text(change.key, wide)) for change in c.changes], 4)
    lines += _one_sided(c.only_a, 0, f"only in A ({NOTE_ONLY_A})", c.key_mode, wide)
    lines += _one_sided(c.only_b, 1, "only in B", c.key_mode, wide)
    gated = _hidden(c.critical_path_hidden, "step on both paths", "steps on both paths", c)
    lines += ["", f"critical path, aligned by key ({gated})"]
    rows = [("A", "B", "", "step")]
    for step in c.critical_path:
        time_a, time_b = step.time_ns
        moved = ("" if time_a is not None and time_b is not None else
                 "only in A" if not step.ran[1] else "only in B" if not step.ran[0] else
                 "off the path in B" if time_b is None else "onto the path in B")
        rows.append((_maybe(time_a), _maybe(time_b), moved, key_text(step.key, wide) + _nth(step.occurrence[-1])))
    lines += _table(rows, 2)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _maybe(ns: Optional[int]) -> str:
    return "—" if ns is None else format_ns(ns)


def _pair(times: Tuple[int, int]) -> Tuple[str, str]:
    return format_ns(times[0]), format_ns(times[1])


def _nth(occurrence: int) -> str:
    """Which of the siblings with this key, after the first (#2, #3, ...)."""
    return f"  (#{occurrence + 1})" if occurrence else ""


def _one_sided(changes: List[Change], side: int, title: str, mode: str, wide: bool) -> List[str]:
    """The keys of one run only, each shown once with what ran under it (path keys) counted."""
    lines = ["", f"{title}:"]
    shown: List[Tuple[Change, int]] = []
    if mode == "path":
        keys = {change.key for change in changes}
        tops = [change for change in changes if change.key[:-1] not in keys]
        under = {change.key: 0 for change in tops}
        for change in changes:
            for level in range(1, len(change.key)):
                if change.key[:level] in under:
                    under[change.key[:level]] += change.count[side]
                    break
        shown = [(change, under[change.key]) for change in tops]
    else:
        shown = [(change, 0) for change in changes]
    rows = [("count", "time", "key")]
    for change, below in shown:
        note = f"  (and {below} processes under it)" if below else ""
        rows.append((str(change.count[side]), format_ns(change.time_ns[side]), key_text(change.key, wide) + note))
    return lines + _table(rows, 2)


def json_report(comparison: Comparison, names: Tuple[str, str]) -> bytes:
    """The one JSON object of --json, on one line (its keys are described in proctrace-diff(1))."""
    c = comparison

    def key(change: Change) -> list:
        return [list(command) for command in change.key]

    document = {
        "inputs": list(names),
        "key": c.key_mode,
        "same_job": c.same_job,
        "roots": [list(c.roots[0]), list(c.roots[1])],
        "wall_ns": list(c.wall_ns),
        "critical_path_ns": list(c.critical_path_ns),
        "processes": list(c.processes),
        "failures": list(c.failures),
        "min_delta_ns": c.min_delta_ns,
        "min_percent": c.min_percent,
        "changes": [{"key": key(change), "count": list(change.count), "time_ns": list(change.time_ns),
                     "delta_ns": change.delta_ns} for change in c.changes],
        "hidden": c.hidden,
        "only_a": [key(change) for change in c.only_a],
        "only_b": [key(change) for change in c.only_b],
        "critical_path": [{"key": [list(command) for command in step.key], "occurrence": list(step.occurrence),
                           "time_ns": list(step.time_ns)} for step in c.critical_path],
        "critical_path_hidden": c.critical_path_hidden,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if SURROGATE.search(text):
        # no lone surrogate can be written as UTF-8: as a JSON escape it reads back as itself
        text = SURROGATE.sub(lambda match: "\\u%04x" % ord(match.group()), text)
    return (text + "\n").encode("utf-8")
