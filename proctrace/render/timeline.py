"""What the timeline views (perfetto, html) read of the process model, in bulk and mostly undecoded.

Both write every process of a big recording as JSON: decoding each exec's
argv only to encode it again would cost seconds at a million events.  So
the fields are taken as the JSON text the recording holds (model.raw_fields,
canonical and checked), cut apart with one regex pass over all of them, and
decoded only where a view must look inside (a label that needs quoting, an
escape a viewer would refuse).

    tree_order(recording) -> ([make, cc, cc, ...], [-1, 0, 0, ...])
    exec_columns(steps) -> [(b"12", b'["cc","-c","x.c"]', b'"/usr/bin/cc"', b"12", b""), ...]
"""

from __future__ import annotations

import json
import re
import sys

from array import array
from itertools import repeat

from proctrace.model import raw_fields_of

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, List, Sequence, Tuple

    from proctrace.model import ExecStep, Process, Recording

__all__ = ["tree_order", "exec_columns", "cmdline_texts", "exit_columns", "labels", "command_label", "json_str",
           "safe_json", "LABEL_LIMIT"]

LABEL_LIMIT = 200

# a JSON string of canonical text (the unrolled loop; possessive where the
# version has them: nothing inside a string is worth backtracking into)
_STR = rb'"[^"\\]*(?:\\.[^"\\]*)*"' if sys.version_info < (3, 11) else rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_ARRAY = rb'\[(?:%s(?:,%s)*)?\]' % (_STR, _STR)
# "pgid":12,"cmdline":["cc","-c","x.c"],"filename":"/usr/bin/cc","sid":12,"cmdline_truncated":true
_EXEC = re.compile(rb'^"pgid":([0-9]+),"cmdline":(%s)(?:,"filename":(%s))?(?:,"sid":([0-9]+))?'
                   rb'(,"cmdline_truncated":true)?$' % (_ARRAY, _STR), re.M)
_CMDLINE = re.compile(rb'^"pgid":[0-9]+,"cmdline":(%s)' % _ARRAY, re.M)
# the same where no string holds a backslash or a "]": each cmdline ends at the first "]", and a
# string at the next quote (five times faster)
_PLAIN_EXEC = re.compile(rb'^"pgid":([0-9]+),"cmdline":(\[[^\]]*\])(?:,"filename":("[^"]*"))?(?:,"sid":([0-9]+))?'
                         rb'(,"cmdline_truncated":true)?$', re.M)
_PLAIN_CMDLINE = re.compile(rb'"cmdline":(\[[^\]]*\])')
# "pgid":12,"sid":12,"exit_code":0,"signal":null
# (empty for a process with no Exit)
_EXIT = re.compile(rb'^(?:"pgid":([0-9]+)(?:,"sid":([0-9]+))?(?:,"exit_code":([0-9]+|null),"signal":([0-9]+|null))?)?$',
                   re.M)
_SURROGATE = re.compile("[\ud800-\udfff]")
# what a label shows as an escape: control characters, line and paragraph separators, lone surrogates
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_NEEDS_QUOTES = re.compile(r"""[\s'"]""")
_QUOTE, _QUOTED_QUOTE = "'", "'\\''"
# /nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname -> <store>/dirname
_NIX_STORE = re.compile(r"/nix/store/[0-9a-z]{32}-[^/\s]*/(?:s?bin/)?")


def tree_order(recording: Recording) -> Tuple[List[Process], Sequence[int]]:
    """The processes depth first (each followed by its children, in order of start), and the
    index of each one's parent in that order (-1 for a root)."""
    order: List[Process] = []
    parents = array("q")  # (an array: a list of as many ints costs four times the memory)
    stack = list(reversed(recording.roots))
    above = [-1] * len(stack)  # the parent's index of each process on the stack
    pop, add, push = stack.pop, order.append, stack.extend
    pop_above, add_parent, push_above = above.pop, parents.append, above.extend
    while stack:  # a loop, not recursion: fork chains can be deep
        proc = pop()
        add_parent(pop_above())
        if proc.children:
            push_above(repeat(len(order), len(proc.children)))
            push(reversed(proc.children))
        add(proc)
    return order, parents


def exec_columns(steps: Sequence[ExecStep]) -> List[Tuple[bytes, bytes, bytes, bytes, bytes]]:
    """(pgid, cmdline, filename, sid, truncated) of each exec, as the JSON text of each
    field (b"" where the recording has none), read in one pass over all of them."""
    if not steps:
        return []
    joined = b"\n".join(raw_fields_of(steps))
    plain = b"\\" not in joined and joined.count(b"]") == len(steps)
    found = (_PLAIN_EXEC if plain else _EXEC).findall(joined)
    if len(found) != len(steps):  # canonical text always matches: this would be a bug
        raise ValueError(f"{len(steps) - len(found)} exec fields not in canonical form")
    return found


def cmdline_texts(rests: Sequence[bytes]) -> List[bytes]:
    """The cmdline (JSON text) in each of these execs' raw fields (model.raw_fields)."""
    if not rests:
        return []
    joined = b"\n".join(rests)
    # ("cmdline": is only ever the field's name: in a string its quotes would be escaped)
    plain = b"\\" not in joined and joined.count(b"]") == len(rests)
    found = (_PLAIN_CMDLINE if plain else _CMDLINE).findall(joined)
    if len(found) != len(rests):  # canonical text always matches: this would be a bug
        raise ValueError(f"{len(rests) - len(found)} exec fields not in canonical form")
    return found


def exit_columns(procs: Sequence[Process]) -> List[Tuple[bytes, bytes, bytes, bytes]]:
    """(pgid, sid, exit_code, signal) of each process's Exit as JSON text (b"" where absent,
    b"null" as written; all b"" for a process with no Exit).

    Most processes of a build end alike (same group, session and status):
    each distinct text is read once, and its tuple shared.
    """
    if not procs:
        return []
    distinct: Dict[bytes, int] = {}
    ids = [distinct.setdefault(rest, len(distinct)) for rest in raw_fields_of(procs)]
    found = _EXIT.findall(b"\n".join(distinct))
    if len(found) != len(distinct):  # canonical text always matches: this would be a bug
        raise ValueError(f"{len(distinct) - len(found)} exit fields not in canonical form")
    return list(map(found.__getitem__, ids))


def labels(cmdlines: Sequence[bytes], *, limit: int = LABEL_LIMIT) -> List[bytes]:
    """Each cmdline's command_label, as a JSON string safe for any viewer.

    Most are the arguments joined by blanks, made without decoding them:
    all at once when no cmdline needs more (no escape, no blank or quote in
    an argument, no empty one, nothing but printable ASCII, no store path).
    """
    if not cmdlines:
        return []
    joined = b"\n".join(cmdlines)
    if _plain(joined) and max(map(len, cmdlines)) <= limit and b"[]" not in joined:
        # cmdlines apart first (by a NUL, which canonical text never holds raw), so that the
        # separators are replaced left to right in each as in one alone: `","` can also be an
        # argument that is a comma, after a separator that a left-to-right pass takes first
        body = joined[2:-2].replace(b'"]\n["', b"\0").replace(b'","', b" ").replace(b"\0", b'"\n"')
        return (b'"' + body + b'"').split(b"\n")
    return [b'"' + text[2:-2].replace(b'","', b" ") + b'"' if _plain(text) and len(text) <= limit and text != b"[]"
            else json_str(command_label(json.loads(text), limit=limit)) for text in cmdlines]


def command_label(cmdline: Sequence[str], *, limit: int = LABEL_LIMIT) -> str:
    """A readable one-line command, never empty (Perfetto drops an empty name).

    Arguments are quoted where a shell would need it; control characters,
    line separators and bytes that are not UTF-8 are written as escapes
    (\\n, \\xNN), store paths shortened; a longer text is cut in the middle.
    """
    if not cmdline:
        return "(empty argv)"
    text = " ".join(_QUOTE + arg.replace(_QUOTE, _QUOTED_QUOTE) + _QUOTE
                    if not arg or _NEEDS_QUOTES.search(arg) else arg for arg in cmdline)
    if "/nix/store/" in text:
        text = _NIX_STORE.sub("<store>/", text)
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub(_shown, text)
    if len(text) > limit:
        head = limit * 2 // 3
        text = text[:head] + "\u2026" + text[len(text) - (limit - head - 1):]
    return text


def _shown(match: re.Match) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\x%02x" % (code - 0xDC00) if 0xDC80 <= code <= 0xDCFF else "\\u%04x" % code


def _plain(text: bytes) -> bool:
    """No argument in this JSON text needs more than joining: see labels."""
    return (text.isascii() and b"\\" not in text and b" " not in text and b"'" not in text and b'""' not in text
            and b"\x7f" not in text and b"/nix/store/" not in text)


def json_str(text: str) -> bytes:
    """A JSON string that every viewer reads: a byte that is not UTF-8 (a lone surrogate
    U+DC80-U+DCFF) is shown as the text \\xNN, any other lone surrogate as \\uXXXX."""
    return safe_json(json.dumps(text, ensure_ascii=False))


def safe_json(text: str) -> bytes:
    """JSON text -> UTF-8, with lone surrogates (raw or escaped) written as visible text.

    Perfetto's JSON parser rejects the escape of any surrogate, even a valid
    pair, and UTF-8 cannot hold one: so they become the text \\xNN (a byte
    that is not UTF-8) or \\uXXXX, with the backslash escaped.
    """
    if "\\u" in text:
        # decoded and written again, escaped surrogates become raw ones
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(_shown_surrogate, text)
    return text.encode("utf-8")


def _shown_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    return "\\\\x%02x" % (code - 0xDC00) if 0xDC80 <= code <= 0xDCFF else "\\\\u%04x" % code
