"""Labels of a Mermaid gantt chart: the text a bar shows, and that text as the chart must write it.

Two steps, kept apart so that each can be checked on its own:

- `command_text(argv)` is what a person reads: the program's name (not its
  path), then its arguments, quoted as a shell would where they hold blanks
  or quotes.  Every character that does not print is shown as an escape
  (`\\n`, `\\x01`, `\\xff` for a byte that is not UTF-8, `\\ufeff`, ...), so
  what is drawn is what is there.  `fit_label` shortens it to the room its
  bar leaves: long directories of its paths first, then its middle.
- `escape_label(text)` writes that text into the chart.  The rule has no
  list of keywords, so it cannot have gaps: every character outside a small
  safe set (ASCII letters, digits, the space and the punctuation Mermaid
  gives no meaning to) is written as a Mermaid entity `#N;` (N its code
  point, in decimal), and so is a label's first character unless it is
  punctuation from that set.  Mermaid's gantt lexer, at the start of a
  line, reads a statement only from a letter (section, click, call, href,
  accTitle, ...), a digit (a date), `%` or a character followed by `%`
  (comments, directives), or what it skips as a blank (JavaScript's `\\s`,
  which holds U+FEFF and every Unicode space); `%` is always an entity, so
  a task line cannot read as anything but a task, and its label ends at
  the task's own `:`.

The characters left out of the safe set and why: `:` ends a label, `%`
starts a comment or a directive, `#` an entity and `;` ends one; Mermaid
rewrites `="` inside `<...>` to `='`, so `<`, `>` and `"` go too; and
every non-ASCII character, because Mermaid's own stand-ins for entities
are non-ASCII (`ﬂ°`, `¶ß`, turned into `&` and `;` in the SVG) and its
regexes treat some as blanks or line ends (U+FEFF, U+2028).  Entities
are only written for characters that print: `&#13;` or `&#128;` would
not draw the character itself.

    escape_label("click x :y") -> "#99;lick x #58;y"
"""

from __future__ import annotations

import re
from string import ascii_letters, digits

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Optional, Sequence

__all__ = ["SAFE", "FIRST_SAFE", "escape_label", "escape_text", "readable", "command_text", "fit", "fit_label",
           "text_width", "measured_width", "MAX_COMMAND"]

PUNCTUATION = "!$&'()*+,-./=?@[\\]^_`{|}~"
SAFE = frozenset(ascii_letters + digits + " " + PUNCTUATION)
FIRST_SAFE = frozenset(PUNCTUATION)
UNSAFE = re.compile("[^A-Za-z0-9 " + re.escape(PUNCTUATION) + "]")
ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[ntr])")  # what readable() writes
NEEDS_QUOTES = re.compile(r"[\s'\"]")
OTHER_BLANKS_OR_QUOTES = re.compile(r"[^\S ]|['\"]")
# /nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname -> <store>/dirname
NIX_STORE = re.compile(r"/nix/store/[0-9a-z]{32}-[^/\s]*/(?:s?bin/)?")
MAX_COMMAND = 100  # characters of a command, wherever its bar is
# the directories of a path in an argument: /usr/lib/gcc/x86_64-linux-gnu/12/cc1, --out=include/project/x.h
DIRECTORIES = re.compile(r"(?<![^\s='])(?!-)/?(?:[^\s/'=]+/)+(?=[^\s/'])")
ELLIPSIS = "..."  # (ASCII: "…" would take 7 characters of the chart, as #8230;)


def _entity(match: re.Match) -> str:
    return "#%d;" % ord(match.group())


def escape_label(text: str) -> str:
    """A task's label -> the chart's text for it, which Mermaid reads as a label and shows as `text`."""
    text = UNSAFE.sub(_entity, readable(text))
    if text and text[0] not in FIRST_SAFE and text[0] != "#":  # a '#' there is an entity already
        text = "#%d;%s" % (ord(text[0]), text[1:])
    return text


def escape_text(text: str) -> str:
    """The text of a title or section line, which starts with its keyword: escape_label without its first rule."""
    return UNSAFE.sub(_entity, readable(text))


def _escape(char: str) -> str:
    code = ord(char)
    if char in ESCAPES:
        return ESCAPES[char]
    if code < 0x80:
        return "\\x%02x" % code
    if 0xDC80 <= code <= 0xDCFF:
        return "\\x%02x" % (code - 0xDC00)  # a byte that is not UTF-8 (surrogateescape)
    return "\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code


def readable(text: str) -> str:
    """Text with every character that does not print (controls, blanks but the space, lone
    surrogates, U+FEFF, ...) written as a backslash escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _quoted(arg: str) -> str:
    if arg and not NEEDS_QUOTES.search(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def command_text(cmdline: Sequence[str], filename: Optional[str] = None) -> str:
    """An argv -> one readable line: the program's name (not its path), then its arguments.

    An empty argv shows the name of the file exec'd, if known; "" otherwise.
    """
    if cmdline:
        words = [cmdline[0].rsplit("/", 1)[-1] or cmdline[0], *cmdline[1:]]
        text = " ".join(words)
        if "" in words or text.count(" ") != len(words) - 1 or OTHER_BLANKS_OR_QUOTES.search(text):
            text = " ".join([_quoted(word) for word in words])
    elif filename:
        text = _quoted(filename.rsplit("/", 1)[-1] or filename)
    else:
        return ""
    if "/nix/store/" in text:
        text = NIX_STORE.sub("<store>/", text)
    return readable(text)


# How wide Mermaid draws each character, in hundredths of an em: Arial's
# advance widths (Liberation Sans, Helvetica and most sans-serif fonts
# are close), from ' ' to '~'.  A character beyond ASCII counts by the
# length of its UTF-8 form: 0.7 em for 2 bytes (Latin, Greek, Cyrillic),
# 1 em for 3 (CJK), 1.2 em for 4 (emoji); continuation bytes count 0.
_ASCII_WIDTHS = (
    28, 28, 36, 56, 56, 89, 67, 20, 34, 34, 39, 59, 28, 34, 28, 28,   # space to /
    56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 28, 28, 59, 59, 59, 56,   # 0 to ?
    102, 67, 67, 73, 73, 67, 62, 78, 73, 28, 50, 67, 56, 84, 73, 78,  # @ to O
    67, 78, 73, 67, 62, 73, 67, 95, 67, 67, 62, 28, 28, 28, 47, 56,   # P to _
    34, 56, 56, 50, 56, 56, 28, 56, 56, 23, 23, 50, 23, 84, 56, 56,   # ` to o
    56, 56, 34, 50, 28, 56, 50, 73, 50, 50, 50, 34, 26, 34, 59)       # p to ~
_WIDTHS = bytes([56] * 32 + list(_ASCII_WIDTHS) + [56] + [0] * 64 + [70] * 32 + [100] * 16 + [120] * 16)


def text_width(text: str) -> int:
    """How wide `text` is drawn, in hundredths of an em (11 px a em in a gantt chart)."""
    return sum(text.encode("utf-8", "surrogatepass").translate(_WIDTHS))


# While Mermaid lays a label out, an entity `#N;` stands as "ﬂ°°N¶ß" (it
# becomes `&#N;` in the SVG only later): the label is measured that wide.
ENTITY_WIDTH = 380  # hundredths of an em, less N's digits (56 each)


def _char_width(char: str) -> int:
    return _WIDTHS[ord(char)] if ord(char) < 0x80 else _WIDTHS[char.encode("utf-8", "surrogatepass")[0]]


def _entity_extra(char: str) -> int:
    """How much wider Mermaid measures `char` written as an entity than drawn."""
    return ENTITY_WIDTH + 56 * len(str(ord(char))) - _char_width(char)


def _char_widths(text: str, *, measured: bool = False) -> list:
    if text.isascii():
        widths = list(text.encode("ascii").translate(_WIDTHS))
    else:
        widths = [_char_width(char) for char in text]
    if measured:
        for match in UNSAFE.finditer(text):
            widths[match.start()] += _entity_extra(match.group())
        if text and text[0] in SAFE and text[0] not in FIRST_SAFE:
            widths[0] += _entity_extra(text[0])
    return widths


def measured_width(text: str) -> int:
    """How wide Mermaid takes the label `text` to be when it places it (its entities are wider)."""
    width = text_width(text)
    for match in UNSAFE.finditer(text):
        width += _entity_extra(match.group())
    if text and text[0] in SAFE and text[0] not in FIRST_SAFE:
        width += _entity_extra(text[0])
    return width


def _collapsed(match: re.Match) -> str:
    return ELLIPSIS + "/" if len(match.group()) >= 16 else match.group()


def fit(text: str, room: int, *, limit: int = MAX_COMMAND, measured: bool = False) -> str:
    """`text` made to fit `limit` characters and `room` hundredths of an em, as drawn or, with
    `measured`, as Mermaid measures it: long directories of paths written '.../' first, then
    the middle cut out (its start and end kept, joined by '...')."""
    width = measured_width if measured else text_width
    if len(text) <= limit and width(text) <= room:
        return text
    if "/" in text:
        text = DIRECTORIES.sub(_collapsed, text)
    widths = _char_widths(text, measured=measured)
    if len(text) <= limit and sum(widths) <= room:
        return text
    # one cut, two thirds of the room and the characters before it
    room -= 3 * 28  # the ellipsis
    chars = limit - len(ELLIPSIS)
    head_room, head_chars = room * 2 // 3, chars * 2 // 3
    head = used = 0
    while head < head_chars and head < len(text) and used + widths[head] <= head_room:
        used += widths[head]
        head += 1
    tail, left, tail_chars = len(text), room - used, chars - head
    while tail > head and len(text) - tail < tail_chars and widths[tail - 1] <= left:
        left -= widths[tail - 1]
        tail -= 1
    if "\\" in text:  # never cut an escape in two: the end of \x1b is no escape
        for match in ESCAPE.finditer(text):
            start, end = match.span()
            if start < head < end:
                head = start
            if start < tail < end:
                tail = end
    return text[:head] + ELLIPSIS + text[tail:]


def fit_label(command: str, suffix: str, left: int, right: int) -> str:
    """`command` + `suffix`, the command shortened until Mermaid draws the whole label on the chart.

    Mermaid puts a label inside its bar or right of it when it measures it
    narrower than `right` (the larger of the two rooms), else left of the
    bar, where it must be drawn narrower than `left`.  (Hundredths of an em.)
    """
    label = command + suffix
    if len(command) <= MAX_COMMAND and (text_width(label) <= left or measured_width(label) <= right):
        return label
    width = text_width(suffix)
    drawn_left = fit(command, left - width)
    placed_right = fit(command, right - width, measured=True)
    return (drawn_left if len(drawn_left) >= len(placed_right) else placed_right) + suffix
