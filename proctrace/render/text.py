"""What the text formats (tree, summary) share: safe commands, durations, outcomes, notes.

An argv is hostile text: it may hold escape sequences, bidi overrides,
line separators, invisible characters and bytes that are not UTF-8 (lone
surrogates in the model).  command_text writes it for a terminal with one
rule that has no gaps: every character outside the allowed set (printable
by Python's definition, which leaves out controls, format characters,
separators other than the space, surrogates, private-use and unassigned
code points, and not default-ignorable) is escaped, inside bash's `$'...'`
quoting, so what is shown is also what a shell would run.

    command_text(["printf", "%s\\n", "a b", "\\x1b[31m"]) -> "printf '%s\\n' 'a b' $'\\x1b[31m'"
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Sequence, Tuple

    from proctrace.model import Process, Recording

__all__ = ["command_text", "command_texts", "escaped_word", "shown", "duration", "durations", "signal_name", "outcome",
           "columns", "fit", "notes", "main_root", "command_of", "RED", "YELLOW", "RESET"]

# Default-ignorable code points that Python counts as printable: drawn as
# nothing, they could hide text.  (The others, such as U+200B or U+202E,
# are format characters, which isprintable() already refuses.)
INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
                       "\U000e0100-\U000e01ef]")
# what makes a shell read a word otherwise than as it is written
NEEDS_QUOTES = re.compile(r"""[\s'"\\$`;&|<>()*?\[\]{}#~!]""")
# the same but for whitespace, in a command joined by spaces: every other blank is not printable,
# which the checks tell first
NEEDS_QUOTES_BUT_SPACE = re.compile(r"""['"\\$`;&|<>()*?\[\]{}#~!]""")
# in argvs joined by blanks and newlines: printable ASCII that a shell reads as it is (deleted by
# bytes.translate, which is ten times faster than a search for the others)
_PLAIN = bytes(sorted(set(b"\n " + bytes(range(0x21, 0x7F))) - set(b"""'"\\$`;&|<>()*?[]{}#~!""")))
# "pgid":5,"cmdline":["cc","-c","x.c"],"filename":"/usr/bin/cc" -> b'cc","-c","x.c', where no string holds a "]"
_PLAIN_ARGV = re.compile(rb'"cmdline":\["([^\]]*)"\]')
SHORT_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

RED, YELLOW, RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
                8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
                14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
                20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
                26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS"}


def _allowed(text: str) -> bool:
    return text.isprintable() and (text.isascii() or not INVISIBLE.search(text))


def _escape(char: str) -> str:
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    code = ord(char)
    # \xNN is a byte, as in bash: an ASCII character, or (from 80 on) a byte of
    # the argv that is not UTF-8 (surrogateescape); other characters are \u or \U
    if code < 0x80:
        return "\\x%02x" % code
    if 0xDC80 <= code <= 0xDCFF:
        return "\\x%02x" % (code - 0xDC00)
    return "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code


def escaped_word(word: str) -> str:
    """One argument as a shell word: as it is, in '...' when the shell would read it otherwise,
    in $'...' with escapes when it holds a character outside the allowed set."""
    if not word:
        return "''"
    if _allowed(word):
        return "'" + word.replace("'", "'\\''") + "'" if NEEDS_QUOTES.search(word) else word
    return "$'" + "".join(char if char not in SHORT_ESCAPES and _allowed(char) else _escape(char)
                          for char in word) + "'"


def command_text(argv: Sequence[str]) -> str:
    """An argv as one line a terminal shows safely and a shell would read back as the same argv."""
    text = " ".join(argv)
    # the common case in one pass of each check, in C: no argument needs quoting or escaping
    if _allowed(text) and not NEEDS_QUOTES_BUT_SPACE.search(text) and text.count(" ") == len(argv) - 1 \
            and "" not in argv:
        return text
    return " ".join(map(escaped_word, argv))


def command_texts(rests: Sequence[bytes]) -> List[str]:
    """command_text of the argv of each of many execs, given as their fields' JSON text
    (model.raw_fields: canonical, so the argv's strings are JSON's shortest form).

    Most argvs need no quotes or escapes: their text is their strings joined
    by blanks, cut out of a whole batch and joined by a few C passes without
    decoding any.  A batch that holds another argv (or a file name with a
    blank or a "]": it is read with them) is halved until the others are
    alone; those are decoded and go through command_text.
    """
    if not rests:
        return []
    joined = b"\n".join(rests)
    # no escape, blank or empty string, and a "]" only where each argv ends: each argv is one
    # match of _PLAIN_ARGV, its strings as they are (an empty argv is none)
    if b"\\" not in joined and b" " not in joined and b'""' not in joined and joined.count(b"]") == len(rests):
        found = _PLAIN_ARGV.findall(joined)
        if len(found) == len(rests):
            body = b"\n".join(found).replace(b'","', b" ")
            if not body.translate(None, _PLAIN):
                return body.decode("ascii").split("\n")
    if len(rests) == 1:
        import json  # (not at start-up: most argvs never need it)
        return [command_text(json.loads(b"{%s}" % rests[0])["cmdline"])]
    half = len(rests) // 2
    return command_texts(rests[:half]) + command_texts(rests[half:])


def shown(text: str) -> str:
    """Any other text from the recording (a program name), with what is not allowed escaped."""
    if _allowed(text) and "\\" not in text:
        return text
    return "".join(char if char != "\\" and _allowed(char) else _escape(char) for char in text)


def duration(ns: float) -> str:
    """A duration in ms or s, as the Mermaid chart's labels give it (the units every text format uses)."""
    if ns >= 10_000_000_000:
        return "%.1f s" % (ns / 1e9)
    if ns >= 1_000_000_000:
        return "%.2f s" % (ns / 1e9)
    if ns >= 10_000_000:
        return "%.0f ms" % (ns / 1e6)
    return "%.2f ms" % (ns / 1e6)


def durations(values: Iterable[int], width: int = 0) -> List[str]:
    """duration of each of many integers, right-justified to `width`.

    Each text is formatted once and shared: all the values that round to
    it (but exact ties, which the float's own rounding decides) give it,
    and a million durations of a build make a few thousand texts.
    """
    made: Dict[int, str] = {}
    out = []
    add = out.append
    for ns in values:
        # the value rounded to its unit's last digit, offset by its unit: ms to 0.01, ms, s to 0.01, s to 0.1
        if 0 <= ns < 10_000_000:
            key = (ns + 5_000) // 10_000 if ns % 10_000 != 5_000 else -1
        elif 0 <= ns < 1_000_000_000:
            key = 2_000 + (ns + 500_000) // 1_000_000 if ns % 1_000_000 != 500_000 else -1
        elif 0 <= ns < 10_000_000_000:
            key = 4_000 + (ns + 5_000_000) // 10_000_000 if ns % 10_000_000 != 5_000_000 else -1
        elif 0 <= ns < 10**15:  # (above, the float's error could reach a tie: 11 days)
            key = 6_000 + (ns + 50_000_000) // 100_000_000 if ns % 100_000_000 != 50_000_000 else -1
        else:
            key = -1
        text = made.get(key)
        if text is None:
            text = duration(ns).rjust(width)
            if key >= 0:
                made[key] = text
        add(text)
    return out


def signal_name(number: int) -> str:
    return SIGNAL_NAMES.get(number, f"signal {number}")


def outcome(proc: Process) -> str:
    """How it ended, when that was not a plain exit: exit 3, killed by SIGTERM, no exit seen."""
    if proc.end_ns is None:
        return "no exit seen"
    if not proc.failed:
        return ""
    if proc.signal is not None:
        return "killed by " + signal_name(proc.signal)
    return f"exit {proc.exit_code}"


def command_of(proc: Process, argv: Optional[Sequence[str]]) -> str:
    """The text for what a process ran (`argv`: its command step's), marked when it never exec'd."""
    if argv is None:
        return "(unknown command)" + ("" if proc.execs else " (fork)")
    text = command_text(argv) if argv else "(empty argv)"
    if not proc.execs:
        return text + " (fork)"
    if proc.execs[-1].truncated:
        text += " [argv truncated]"
    return text


def columns(text: str) -> int:
    """How many terminal columns the text takes (wide characters two, combining ones none)."""
    if text.isascii():
        return len(text)
    from unicodedata import combining, east_asian_width
    return sum(0 if combining(char) else 2 if east_asian_width(char) in "WF" else 1 for char in text)


def fit(text: str, width: int) -> str:
    """The text cut to `width` columns, ending in '…' when it was cut."""
    if columns(text) <= width:
        return text
    if text.isascii():
        return text[:max(width - 1, 0)] + "…"
    kept, used = [], 0
    for char in text:
        used += columns(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def main_root(recording: Recording) -> Tuple[Optional[Process], List[Process]]:
    """The process a report is about, and the other roots.

    A recording has several roots when some pid's fork was not seen (record
    -p, stray pids): the first root that ran something (an exec or a child)
    is the recorded command; the first root at all when none did.
    """
    roots = recording.roots
    if len(roots) <= 1:
        return (roots[0] if roots else None), []
    chosen = next((root for root in roots if root.execs or root.children), roots[0])
    return chosen, [root for root in roots if root is not chosen]


def notes(recording: Recording, *, no_exit: int, unforked: int) -> List[str]:
    """What the reader must know the output lacks: lost events, missing exits and forks, hidden processes."""
    lines = []
    if recording.lost:
        lines.append(f"the kernel lost {recording.lost_count} events: the recording is incomplete")
    if no_exit:
        lines.append(f"{_count(no_exit, 'process has', 'processes have')} no exit in the recording: "
                     f"counted as running until its end")
    if unforked:
        lines.append(f"{_count(unforked, 'process has', 'processes have')} events but no fork in the "
                     f"recording: they started before it")
    if recording.hidden:
        lines.append(f"{_count(recording.hidden, 'process', 'processes')} shorter than "
                     f"{duration(recording.hidden_below_ns)} hidden (--min-duration)")
    return lines


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
