"""Byte-level readers of canonical lines: the fast path, as pure per-chunk scanners.

A canonical line is one in the exact form events.to_json writes:

    {"Exit":{"timestamp":6,"pid":2,"ppid":1,"pgid":2,"sid":1,"exit_code":0,"signal":null}}

A line in that form needs no JSON decoding to be trusted: one regex pass
over a chunk (in C) checks every line and reads the fields a stage needs.
Each scanner here is a pure function of a chunk of whole lines (so the
helper process of parallel.py can run it), returns arrays and columns
(which cross a pipe fast), and declines a chunk with None when any line
needs the general path (events.from_json).  The rules for declining are
written once, in `_accepted`:

- the chunk is not UTF-8;
- some line is not canonical (another field order, a kind of the original's);
- an Exec has an empty cmdline, which a legacy ExecArgs after it may fill
  (the pipeline's legacy merge needs it as an event);
- a number does not fit in 64 bits (the arrays hold unsigned 64-bit values).

Lost lines are canonical; scanners that hand their lines on unread say that
a chunk holds one, so that the pipeline can report every Lost.
"""

from __future__ import annotations

import re
import sys
from array import array
from functools import lru_cache
from itertools import islice
from operator import getitem, itemgetter, le

from proctrace.reader import lines_of

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["chunk_keys", "sorted_chunk", "chunk_order", "fold_columns",
           "fold_items", "line_owners", "rest_fields", "cmdline_of", "first_words", "lost_counts", "run_keys",
           "FORK", "EXEC", "EXIT", "SETSID", "SETPGID", "LOST"]


def _sorting_order(keys: Sequence[int]) -> Optional[array]:
    """The order that sorts `keys` (equal keys keep theirs), None when they are sorted."""
    if all(map(le, keys, islice(keys, 1, None))):
        return None
    return array("I", sorted(range(len(keys)), key=keys.__getitem__))


# -- the patterns -----------------------------------------------------------
# The exact form to_json writes, kind by kind: a line that matches is valid
# (right fields, types and JSON string syntax).
_N = rb"(?:0|[1-9][0-9]{0,19})"  # longer numbers (beyond 64 bits) take the general path
_S = rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"'
_PIDS = rb'"pid":%(N)s,"ppid":%(N)s,"pgid":%(N)s'
_REST = [
    (b"Fork", rb'"parent_pid":%(N)s,"child_pid":%(N)s,"parent_pgid":%(N)s'),
    (b"Exec", _PIDS + rb',"cmdline":\[(?:%(S)s(?:,%(S)s)*)?\](?:,"filename":%(S)s)?(?:,"sid":%(N)s)?'
                      rb'(?:,"cmdline_truncated":true)?'),
    (b"Exit", _PIDS + rb'(?:,"sid":%(N)s)?(?:,"exit_code":%(N)s,"signal":null|,"exit_code":null,"signal":%(N)s)?'),
    (b"SetSID", _PIDS + rb',"sid":%(N)s'),
    (b"SetPGID", _PIDS),
    (b"Lost", rb'"count":%(N)s'),
]


def _possessive(pattern: bytes) -> bytes:
    if sys.version_info >= (3, 11):
        # Possessive repeats match the same lines here (what each repeats cannot
        # match what follows it), but keep no state to backtrack to: 1.5x faster.
        pattern = pattern.replace(b"*", b"*+")
    return pattern


def _lines_pattern(string: bytes) -> bytes:
    # one alternative a kind, each with a group for the timestamp: findall
    # gives a tuple a line, the timestamp and empty strings
    kinds = b"|".join(rb'%s":\{"timestamp":(%%(N)s),%s' % (kind, fields_re) for kind, fields_re in _REST)
    return _possessive((rb'^\{"(?:' + kinds + rb')\}\}$') % {b"N": _N, b"S": string})


# The fields the fold needs, with the same groups for every kind: each kind
# name sets an empty group, and later parts branch on it with (?(name)...).
# The two numbers after the timestamp share groups in every kind (a Lost
# has one), out of which fold_columns picks each kind's pid and parent:
# joining groups of each kind took a Python call a line.
#   {"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,"parent_pgid":1}}
#     -> KIND b"ork", TIMESTAMP b"5", FIRST b"1", SECOND b"2", REST b'"parent_pgid":1'
#   {"Exit":{"timestamp":6,"pid":2,"ppid":1,"pgid":2,"exit_code":0,"signal":null}}
#     -> KIND b"xit", TIMESTAMP b"6", FIRST b"2", SECOND b"1", REST b'"pgid":2,"exit_code":0,"signal":null'
#   {"Lost":{"timestamp":7,"count":3}} -> KIND b"ost", TIMESTAMP b"7", FIRST b"3"
_KIND, _TIMESTAMP, _FIRST, _SECOND, _REST_FIELDS = range(6, 11)


def _fields_pattern(string: bytes) -> bytes:
    pattern = (
        rb'^\{"(?:F(?=ork")(?P<f>)|E(?=xec")(?P<e>)|E(?=xit")(?P<x>)|S(?=etSID")(?P<s>)|S(?=etPGID")(?P<p>)'
        rb'|L(?=ost")(?P<l>))(\w+)":\{"timestamp":(%(N)s),'
        rb'(?(l)"count"|(?(f)"parent_pid"|"pid")):(%(N)s)'
        rb'(?(l)|,(?(f)"child_pid"|"ppid"):(%(N)s),'
        rb'((?(f)"parent_pgid":%(N)s|"pgid":%(N)s'
        rb'(?(e),"cmdline":\[(?:%(S)s(?:,%(S)s)*)?\](?:,"filename":%(S)s)?(?:,"sid":%(N)s)?'
        rb'(?:,"cmdline_truncated":true)?'
        rb'|(?(x)(?:,"sid":%(N)s)?(?:,"exit_code":%(N)s,"signal":null|,"exit_code":null,"signal":%(N)s)?'
        rb'|(?(s),"sid":%(N)s|))))))'
        rb'\}\}$') % {b"N": _N, b"S": string}
    return _possessive(pattern)


# For chunks without backslashes and control characters (but newlines): the
# simpler string pattern may run past a line's end, but then that match
# swallows two lines and the count of matches falls short of the count of
# lines, so the chunk is declined.
_PATTERNS = {
    "lines": (_lines_pattern(rb'"[^"]*"'), _lines_pattern(_S)),
    "fields": (_fields_pattern(rb'"[^"]*"'), _fields_pattern(_S)),
}
_CONTROL = bytes(range(0, 10)) + bytes(range(11, 32))
_CONTROL_OR_ESCAPE = _CONTROL + b"\\"
_LOST_TIMESTAMP = itemgetter(5)  # of a "lines" match's groups: a Lost's, empty for other kinds
_timestamp = b"".join            # of a "lines" match's groups: one is the timestamp, the others empty


@lru_cache(maxsize=None)
def _compiled(pattern: bytes) -> re.Pattern:
    """A pattern, compiled on first use: each stage needs only some."""
    return re.compile(pattern, re.M)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _accepted(body: bytes, which: str, lines: Optional[List[bytes]] = None) -> Optional[list]:
    """The pattern's groups for each line of the chunk, when every line is
    canonical and none needs the general path for another reason (see the
    module docstring); else None.  `lines`: the chunk's lines, when the
    caller splits it anyway (else they are counted, which is cheaper)."""
    if not (body.isascii() or _is_utf8(body)) or b'"cmdline":[]' in body:
        return None
    plain, full = _PATTERNS[which]
    plain_chunk = len(body.translate(None, _CONTROL_OR_ESCAPE)) == len(body)
    found = _compiled(plain if plain_chunk else full).findall(body)
    if lines is not None:
        return found if len(found) == len(lines) else None  # else some line did not match
    end = len(body) - 1 if body.endswith(b"\n") else len(body)
    return found if len(found) == body.count(b"\n", 0, end) + 1 else None


# -- sort: timestamps only ---------------------------------------------------
# {"Exec":{"timestamp":45062404,...}}: the key starts every line, right after
# the kind.  The first line's key gives the width to expect of every key in
# the chunk; keys of one width compare as bytes the way they do as numbers.
_FIRST_KEY = re.compile(rb'\{"[A-Za-z]+":\{"timestamp":([0-9]+)[,}]')


def _keys_of_width(width: int) -> re.Pattern:
    # the key of each line after the first, when it has this width and the line before it ends
    # its object, not cut short (re caches the compiled pattern)
    return re.compile(rb'\}\}\n\{"[A-Za-z]+":\{"timestamp":([0-9]{%d})(?=[,}])' % width)


def _run_digits(body: bytes, end: int) -> Optional[List[bytes]]:
    """Every line's timestamp digits, when every line of body[:end] starts
    with a key of the first line's width and ends its object; else None."""
    first = _FIRST_KEY.match(body, 0, end)
    # a line cut short (a recorder killed mid-write, perhaps appended to later) must not pass as an event
    if first is None or not body.endswith(b"}}", 0, end) or len(first.group(1)) > 20:
        return None
    digits = _keys_of_width(len(first.group(1))).findall(body, first.end(1), end)
    digits.insert(0, first.group(1))
    # one key found after each newline means one at the start of every line
    return digits if len(digits) == body.count(b"\n", 0, end) + 1 else None


def chunk_keys(body: bytes):
    """For sort, which reads only timestamps: (line count, first, last) when
    the chunk's lines are in order, (sorted text, keys array) when they are
    not, None when some line needs a closer look (events.timestamp_of_line).

    The lines are not checked beyond their start and their end: sort
    passes them through byte for byte.
    """
    end = len(body) - 1 if body.endswith(b"\n") else len(body)
    digits = _run_digits(body, end)
    if digits is None or len(digits[0]) > 19 and int(digits[0]) >> 64:
        return None  # (all keys have the first one's width)
    if all(map(le, digits, islice(digits, 1, None))):
        return len(digits), int(digits[0]), int(digits[-1])
    return _sorted_text(lines_of(body), list(map(int, digits)))


def _sorted_text(lines: List[bytes], keys: List[int]) -> Optional[Tuple[bytes, array]]:
    order = _sorting_order(keys)
    if order is not None:
        pick = itemgetter(*order)
        keys, lines = pick(keys), pick(lines)
    try:
        return b"\n".join(lines), array("Q", keys)
    except OverflowError:
        return None


# -- line formats ------------------------------------------------------------

def sorted_chunk(body: bytes) -> Optional[Tuple[bytes, array, bool]]:
    """For a line format that writes lines whole: the chunk's lines sorted and
    joined, their keys, and whether one is a Lost; None to decline."""
    lines = lines_of(body)
    found = _accepted(body, "lines", lines)
    if found is None:
        return None
    ordered = _sorted_text(lines, list(map(int, map(_timestamp, found))))
    return None if ordered is None else ordered + (any(map(_LOST_TIMESTAMP, found)),)


def chunk_order(body: bytes) -> Optional[Tuple[array, Optional[array], bool]]:
    """For a line format that needs each line on its own: the keys in order,
    the order that sorts the lines (None when they are), and whether one is a
    Lost; None to decline.  Only the order crosses the pipe, not the chunk again."""
    found = _accepted(body, "lines")
    if found is None:
        return None
    keys = list(map(int, map(_timestamp, found)))
    order = _sorting_order(keys)
    if order is not None:
        keys = itemgetter(*order)(keys)  # at least two: a single key is in order
    try:
        return array("Q", keys), order, any(map(_LOST_TIMESTAMP, found))
    except OverflowError:
        return None


# {"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,...  -> (b"Fork", b"2")
# {"Exit":{"timestamp":6,"pid":2,...                       -> (b"Exit", b"2")
# {"Lost":{"timestamp":7,"count":3}}                        -> (b"Lost", b"3")
# A string value cannot hold `{"` unescaped, so each line matches exactly once.
_KIND_PID = re.compile(rb'\{"([A-Za-z]+)":\{"timestamp":[0-9]+,"(?:parent_pid":[0-9]+,"child_pid|pid|count)":([0-9]+)')


def line_owners(lines: List[bytes]) -> List[Tuple[bytes, bytes]]:
    """(kind, pid) of each canonical line: the process it is about (a Fork's
    child); a Lost's pid is b"" (it belongs to no process)."""
    text = b"\n".join(lines)
    pairs = _KIND_PID.findall(text)
    if b'{"Lost"' in text:
        pairs = [(kind, b"" if kind == b"Lost" else pid) for kind, pid in pairs]
    return pairs


# -- tree formats: what the fold needs ---------------------------------------
FORK, EXEC, EXIT, SETSID, SETPGID, LOST = "FEXSPL"
_CODE_OF = {b"ork": FORK, b"xec": EXEC, b"xit": EXIT, b"etSID": SETSID, b"etPGID": SETPGID, b"ost": LOST}
# which group holds each kind's pid and its parent's (a Lost's count stands in for both)
_PID_AT = dict.fromkeys(_CODE_OF, _FIRST)
_PID_AT[b"ork"] = _SECOND
_PARENT_AT = dict.fromkeys(_CODE_OF, _SECOND)
_PARENT_AT[b"ork"] = _PARENT_AT[b"ost"] = _FIRST
_KINDS, _STAMPS, _RESTS = map(itemgetter, (_KIND, _TIMESTAMP, _REST_FIELDS))


def fold_columns(body: bytes) -> Optional[Tuple[array, Tuple[str, array, array, list]]]:
    """For a tree format: the lines' keys in order, and columns of what the
    fold needs of each line in that order: kind codes (FORK, EXEC, ...),
    pids (a Fork's child_pid, a Lost's count), parents' pids (a Fork's
    parent_pid, the others' ppid, a Lost's count again) and the rest of the
    fields as JSON text (see rest_fields); None to decline.  Columns pickle
    far faster than a tuple a line; fold_items zips them into tuples.  Every
    step is a map or method in C: a Python function called a line would add
    a tenth each."""
    found = _accepted(body, "fields")
    if found is None:
        return None
    keys = list(map(int, map(_STAMPS, found)))
    order = _sorting_order(keys)
    if order is not None:
        pick = itemgetter(*order)  # at least two lines: a single line is in order
        keys, found = pick(keys), pick(found)
    kinds = list(map(_KINDS, found))
    codes = "".join(map(_CODE_OF.__getitem__, kinds))
    # equal rests (an Exit's status, a Fork's parent_pgid recur) become one
    # object: pickled once, and held once by the model
    rests = list(map(_RESTS, found))
    seen: dict = {}
    rests = list(map(seen.setdefault, rests, rests))
    try:
        return array("Q", keys), (
            codes,
            array("Q", map(int, map(getitem, found, map(_PID_AT.__getitem__, kinds)))),
            array("Q", map(int, map(getitem, found, map(_PARENT_AT.__getitem__, kinds)))),
            rests)
    except OverflowError:
        return None  # beyond 64 bits


def fold_items(keys: List[int], columns: Tuple[str, array, array, list]):
    """fold_columns' result -> a (code, timestamp, pid, parent pid, rest) tuple a line."""
    codes, pids, parents, rests = columns
    return zip(codes, keys, pids.tolist(), parents.tolist(), rests)


def cmdline_of(rest: bytes) -> Tuple[str, ...]:
    """The cmdline in an Exec's rest, found with a few byte searches when it holds no escape
    (views read it for every process: a regex search was a fifth of each read).

    In a rest with no backslash every quote opens or closes a string, so
    the array opens at the first "[" and closes at the "]" just before
    ,"filename":" (a filename can hold "]"), or at the last "]" when there
    is no filename; and '","' only ever separates two strings.
    """
    if 0x5C in rest:  # a backslash (an int is found far faster than b"\\")
        return tuple(rest_fields(rest)["cmdline"])
    start = rest.index(0x5B) + 1  # after the "["
    end = rest.find(b'],"filename":"', start)
    if end < 0:
        end = rest.rindex(0x5D)
    if end == start:
        return ()
    return tuple(rest[start + 1:end - 1].decode("utf-8").split('","'))


# "pgid":5,"cmdline":["cc","-c","x.c"] -> b'"cc"' (b'' for an empty argv); the field name cannot
# occur inside a string, whose quotes are all escaped
_FIRST_WORD = rb'"cmdline":\[("[^"\\]*(?:\\.[^"\\]*)*")?'  # compiled when used: start-up stays short


def first_words(rests: List[bytes]) -> List[str]:
    """The argv[0] in each Exec's rest ("" for an empty argv), with one regex pass over them all."""
    import json  # (not at start-up: most runs never get here)
    names: Dict[bytes, str] = {b"": ""}
    return [names[text] if text in names else names.setdefault(text, json.loads(text))
            for text in re.findall(_FIRST_WORD, b"\n".join(rests))]


def rest_fields(rest: bytes) -> dict:
    """The fields in a fold item's rest (JSON members without braces) -> a dict."""
    return _scanner()("{" + rest.decode("utf-8") + "}", 0)[0]


@lru_cache(maxsize=None)
def _scanner():
    import json.scanner
    # the C scanner itself: checked text needs none of json.loads' wrapping
    return json.scanner.make_scanner(json.JSONDecoder())


# {"Lost":{"timestamp":7,"count":3}} -> b"3"
_LOST_COUNT = re.compile(rb'^\{"Lost":\{"timestamp":[0-9]+,"count":([0-9]+)\}\}$', re.M)


def lost_counts(body: bytes) -> List[int]:
    """The count of every Lost line in a chunk of canonical lines."""
    return list(map(int, _LOST_COUNT.findall(body)))


def run_keys(run: bytes) -> List[int]:
    """The keys of lines chunk_keys found in order (for the sorter, when it must split them)."""
    return list(map(int, _run_digits(run, len(run))))
