"""The event model and the JSON-lines codec: the one place that knows the format.

A recording is a stream of lines, one event each, an object with exactly one
key naming the kind, as the original Rust proctrace wrote them:

    {"Exec":{"timestamp":45062404,"pid":186552,"ppid":186539,"pgid":186552,"cmdline":["dirname","--","x"]}}

Everything that reads or writes such lines goes through this module, so the
field names, the optional fields we added, the legacy kinds of the original's
later versions and the lossless encoding of non-UTF-8 argv live here only.
See proctrace(5) for the format as users see it.
"""

from __future__ import annotations

import re
import sys
from array import array
from functools import lru_cache
from operator import itemgetter

from proctrace.errors import ParseError, ProctraceError, TracerError
from proctrace.reader import lines_of
from proctrace.sort import as_run, sorted_lines, sorting_order

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

__all__ = [
    "Fork", "Exec", "Exit", "SetSID", "SetPGID", "Lost", "KINDS",
    "ProctraceError", "ParseError", "TracerError",
    "to_json", "from_json", "read_records", "read_prepared_records", "sorted_canonical_chunk", "canonical_order", "canonical_fields", "canonical_columns",
    "CODE", "TIMESTAMP", "FORK_PARENT", "PID", "PPID", "ARGV", "TAIL", "as_event", "as_line", "fields_of", "leading_json", "merge_legacy",
    "UnknownKind",
]


class _Record:
    """An event's fields by name, compared by kind and value, never changed.

    What @dataclass(frozen=True) would give, written out: importing
    dataclasses (and the inspect module it needs) took a fifth of the start-up
    of every render, which every small recording pays.  Each kind
    lists its FIELDS in order and the DEFAULTS of its optional ones.
    """

    __slots__ = ()
    FIELDS: tuple = ()
    DEFAULTS: dict = {}

    def __init__(self, *args, **kwargs):
        names = self.FIELDS
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields, not {len(args)}")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{type(self).__name__} got an unexpected or repeated field {name!r}")
            values[name] = value
        for name in names:
            if name in values:
                value = values[name]
            elif name in self.DEFAULTS:
                value = self.DEFAULTS[name]
            else:
                raise TypeError(f"{type(self).__name__} needs a value for {name!r}")
            object.__setattr__(self, name, value)

    def _values(self) -> tuple:
        return tuple(map(self.__getattribute__, self.FIELDS))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS))

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}: events do not change")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}: events do not change")

    def __reduce__(self):
        return type(self), self._values()


class Fork(_Record):
    __slots__ = FIELDS = ("timestamp", "parent_pid", "child_pid", "parent_pgid")


class Exec(_Record):
    __slots__ = FIELDS = ("timestamp", "pid", "ppid", "pgid", "cmdline", "filename", "sid", "cmdline_truncated")
    DEFAULTS = {"filename": None, "sid": None, "cmdline_truncated": False}


class Exit(_Record):
    __slots__ = FIELDS = ("timestamp", "pid", "ppid", "pgid", "sid", "exit_code", "signal")
    DEFAULTS = {"sid": None, "exit_code": None, "signal": None}


class SetSID(_Record):
    __slots__ = FIELDS = ("timestamp", "pid", "ppid", "pgid", "sid")


class SetPGID(_Record):
    """`pid` moved to process group `pgid` (the new group, not a return value)."""

    __slots__ = FIELDS = ("timestamp", "pid", "ppid", "pgid")


class Lost(_Record):
    """The kernel dropped `count` events: the recording is incomplete."""

    __slots__ = FIELDS = ("timestamp", "count")


# Kinds the original wrote in its later versions.  They are read, never written.
class ExecArgs(_Record):
    __slots__ = FIELDS = ("timestamp", "pid", "args")


class ExecFilename(_Record):
    __slots__ = FIELDS = ("timestamp", "pid", "filename")


if TYPE_CHECKING:
    Event = Union[Fork, Exec, Exit, SetSID, SetPGID, Lost]
KINDS = {cls.__name__: cls for cls in (Fork, Exec, Exit, SetSID, SetPGID, Lost)}
_LEGACY = {"ExecArgs": ExecArgs, "ExecFilename": ExecFilename}
_IGNORED = {"BadExec"}

_INT, _STR, _ARGV, _BOOL = "an integer", "a string", "a list of strings", "true or false"
# kind -> (required fields, optional fields, nullable fields), each field -> type
_SCHEMA = {
    "Fork": ({"timestamp": _INT, "parent_pid": _INT, "child_pid": _INT, "parent_pgid": _INT}, {}),
    "Exec": ({"timestamp": _INT, "pid": _INT, "ppid": _INT, "pgid": _INT, "cmdline": _ARGV},
             {"filename": _STR, "sid": _INT, "cmdline_truncated": _BOOL}),
    "Exit": ({"timestamp": _INT, "pid": _INT, "ppid": _INT, "pgid": _INT},
             {"sid": _INT, "exit_code": _INT, "signal": _INT}),
    "SetSID": ({"timestamp": _INT, "pid": _INT, "ppid": _INT, "pgid": _INT, "sid": _INT}, {}),
    "SetPGID": ({"timestamp": _INT, "pid": _INT, "ppid": _INT, "pgid": _INT}, {}),
    "Lost": ({"timestamp": _INT, "count": _INT}, {}),
    "ExecArgs": ({"timestamp": _INT, "pid": _INT, "args": _STR}, {}),
    "ExecFilename": ({"timestamp": _INT, "pid": _INT, "filename": _STR}, {}),
    "ExecFull": ({"timestamp": _INT, "pid": _INT, "ppid": _INT, "pgid": _INT, "filename": _STR,
                  "args": _STR}, {"sid": _INT}),
}
_FIELD_NAMES = {name: cls.FIELDS for name, cls in KINDS.items()}

# Lone surrogates stand for argv bytes that are not UTF-8 (surrogateescape).
# They cannot be written as UTF-8, so they go out as JSON \\udcXX escapes.
_SURROGATE = re.compile("[\udc80-\udcff]")


def _escape_surrogate(match: re.Match) -> str:
    return "\\u%04x" % ord(match.group())


def _dump_str(text: str) -> str:
    import json  # here, not at the top: checked lines never need it, and it costs start-up time
    out = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(_escape_surrogate, out) if _SURROGATE.search(out) else out


def to_json(event: Event) -> str:
    """One JSON line (without newline); optional fields are left out when unknown."""
    kind = type(event).__name__
    parts = []
    for name in _FIELD_NAMES[kind]:
        value = getattr(event, name)
        if name == "cmdline":
            text = "[" + ",".join(_dump_str(arg) for arg in value) + "]"
        elif name == "cmdline_truncated":
            if not value:
                continue
            text = "true"
        elif value is None:
            if name in ("exit_code", "signal") and (event.exit_code is not None or event.signal is not None):
                text = "null"
            else:
                continue
        elif isinstance(value, str):
            text = _dump_str(value)
        else:
            text = str(value)
        parts.append(f'"{name}":{text}')
    return '{"%s":{%s}}' % (kind, ",".join(parts))


def _check(kind: str, body: dict) -> Optional[str]:
    """The reason `body` is not a valid `kind`, or None when it is."""
    required, optional = _SCHEMA[kind]
    for name, expected in required.items():
        if name not in body:
            return f"{kind} event has no {name!r} field"
    for name, value in body.items():
        expected = required.get(name) or optional.get(name)
        if expected is None:
            continue  # unknown fields (e.g. the original's "seq") are ignored
        if value is None and name in optional:
            continue
        if expected is _INT:
            ok = type(value) is int and value >= 0
            expected = "a non-negative integer"
        elif expected is _STR:
            ok = isinstance(value, str)
        elif expected is _BOOL:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, list) and all(isinstance(arg, str) for arg in value)
        if not ok:
            import json
            return f"{kind} field {name!r} must be {expected}, not {json.dumps(value)[:40]}"
    return None


class UnknownKind(Exception):
    """A well-formed event of a kind this version does not know."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def from_json(line: Union[str, bytes]):
    """Decode one line; ValueError says why it is bad, UnknownKind that it is new.

    Returns an Event, a legacy ExecArgs/ExecFilename record (see merge_legacy),
    or None for kinds that carry nothing (the original's BadExec).
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"not a JSON event: not UTF-8 text (byte {err.start + 1})") from None
    import json  # here, not at the top: checked lines never need it, and it costs start-up time
    try:
        obj = json.loads(line)
    except ValueError as err:
        text = line.strip()
        if not text:
            raise ValueError("empty line") from None
        if text.startswith("{") and not text.endswith("}"):
            raise ValueError("truncated or malformed JSON") from None
        reason = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
        raise ValueError(f"not a JSON event ({reason[:60]})") from None
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError("an event must be an object with exactly one key naming its kind")
    (kind, body), = obj.items()
    if not isinstance(body, dict):
        raise ValueError(f"{kind!r} must map to an object of fields")
    if kind in _IGNORED:
        return None
    if kind not in _SCHEMA:
        raise UnknownKind(kind)
    reason = _check(kind, body)
    if reason:
        raise ValueError(reason)
    if kind == "ExecFull":
        return Exec(body["timestamp"], body["pid"], body["ppid"], body["pgid"],
                    tuple(body["args"].split(" ")) if body["args"] else (),
                    filename=body["filename"], sid=body.get("sid"))
    cls = KINDS.get(kind) or _LEGACY[kind]
    values = {name: body.get(name, cls.DEFAULTS.get(name)) for name in cls.FIELDS}
    if kind == "Exec":
        values["cmdline"] = tuple(body["cmdline"])
        values["cmdline_truncated"] = bool(body.get("cmdline_truncated"))
    return cls(**values)


def _decode_one(line: bytes, lineno: int, source: str, warned: set, warn: Callable[[str], None]):
    """One line the fast path did not accept -> a record, None (skip), or ParseError."""
    try:
        return from_json(line)
    except UnknownKind as unknown:
        if unknown.kind not in warned:
            warned.add(unknown.kind)
            warn(f"{source}:{lineno}: skipping events of unknown kind {unknown.kind!r}")
        return None
    except ValueError as err:
        raise ParseError(source, lineno, str(err)) from None


def read_records(chunks: Iterable[bytes], *, source: str, warn: Callable[[str], None],
                 on_lost: Callable[[int], None] = lambda count: None) -> Iterator[Tuple[List[int], list]]:
    """Chunks of whole lines -> (timestamps, records) batches for the sorter.

    A record is the line itself (bytes) when it is in the exact form to_json
    writes, which one regex pass over the chunk checks in C; any other line
    (the original's formats, other field orders) is decoded by from_json.
    Blank lines are skipped (by-process output has them).  A bad line raises
    ParseError; an unknown kind is skipped with one warning per kind, so a
    newer recorder's extra events do not stop an older renderer.  `on_lost`
    hears the count of every Lost event read, so the caller can warn.
    """
    pairs = ((chunk, sorted_canonical_chunk(chunk)) for chunk in chunks)
    return read_prepared_records(pairs, source=source, warn=warn, on_lost=on_lost)


def sorted_canonical_chunk(body: bytes) -> Optional[Tuple[bytes, array, bool]]:
    """The chunk sorted, as sort.sorted_lines gives it, and whether it holds
    a Lost line, when every line is in canonical form; else None (it is then
    read line by line).

    A pure function of the chunk, so another process can compute it (see
    parallel.py).  Each pass over a chunk costs about as much as the others
    (memory, not work, bounds them), so it makes as few as it can: one
    translate to choose the pattern, the regex, one split.
    """
    checked = _checked(body)
    if checked is None:
        return None
    found, lines = checked
    ordered = sorted_lines(lines, list(map(int, map(_timestamp, found))))
    if ordered is None:
        return None  # beyond 64 bits
    text, keys = ordered
    return text, keys, any(map(_LOST_TIMESTAMP, found))


def canonical_order(body: bytes) -> Optional[Tuple[array, Optional[array]]]:
    """The timestamps of the chunk's lines in order, and the order of its
    lines that sorts them (None when they are in order), when every line is
    in canonical form and none is a Lost; else None.

    For a consumer that holds the chunk itself (see parallel.py): only the
    order crosses the pipe, not the chunk again.  A pure function of the chunk.
    """
    checked = _checked(body)
    if checked is None or any(map(_LOST_TIMESTAMP, checked[0])):
        return None
    keys = list(map(int, map(_timestamp, checked[0])))
    order = sorting_order(keys)
    if order is not None:
        keys = itemgetter(*order)(keys)  # at least two: a single key is in order
    try:
        return array("Q", keys), order
    except OverflowError:
        return None  # beyond 64 bits


def _checked(body: bytes) -> Optional[Tuple[list, List[bytes]]]:
    """The canonical pattern's groups for each line (see _timestamp), and the
    lines, when every line of the chunk is in canonical form; else None."""
    found = _matches(body, _CANONICAL_PLAIN, _CANONICAL)
    if found is None:
        return None
    lines = lines_of(body)
    if len(found) != len(lines):
        return None
    return found, lines


def _matches(body: bytes, plain: bytes, full: bytes) -> Optional[list]:
    """A pattern's groups for each match in the chunk (one a line, when every
    line matches: the caller counts them); None when the chunk is not UTF-8.
    `plain` is the pattern for a chunk with no escape and no control
    character (a string is then any run of non-quotes: simpler, and the
    common case), `full` the one for the rest."""
    if not (body.isascii() or _is_utf8(body)):
        return None
    plain_chunk = len(body.translate(None, _CONTROL_OR_ESCAPE)) == len(body)
    return _compiled(plain if plain_chunk else full).findall(body)


@lru_cache(maxsize=None)
def _compiled(pattern: bytes) -> re.Pattern:
    """A pattern of lines, compiled on first use: each renderer needs only some."""
    return re.compile(pattern, re.M)


def canonical_fields(body: bytes) -> Optional[List[Tuple[bytes, ...]]]:
    """A tuple of fields a line (see CODE ... TAIL), when every line of the chunk
    is in canonical form; else None.  One regex pass both checks the lines and
    reads them.  A pure function of the chunk."""
    found = _matches(body, _FIELDS_PLAIN, _FIELDS)
    end = len(body) - 1 if body.endswith(b"\n") else len(body)
    if found is None or len(found) != body.count(b"\n", 0, end) + 1:
        return None  # counting the lines is cheaper than splitting them, which this needs not
    return found


def canonical_columns(body: bytes, extract: Callable[[list], Optional[tuple]]
                      ) -> Optional[Tuple[array, tuple]]:
    """For a renderer that needs a few fields of every line rather than the
    lines: (keys, extract(canonical_fields(body))) when every line is
    canonical, else None.

    `keys` are the lines' timestamps and `extract` gives columns of fields,
    both in key order (equal keys keep their order).  Arrays and a few columns cross a pipe far faster than
    sorted text or a tuple a line (see parallel.py), and come in the order
    the main process needs them.  A pure function of the chunk; None too
    where `extract` declines it, or beyond 64 bits.
    """
    found = canonical_fields(body)
    if found is None:
        return None
    keys = list(map(int, map(_FIELD_TIMESTAMP, found)))
    order = sorting_order(keys)
    if order is not None:
        pick = itemgetter(*order)  # at least two lines: a single line is in order
        keys, found = pick(keys), list(pick(found))
    try:
        keys = array("Q", keys)
        columns = extract(found)
    except OverflowError:
        return None
    if columns is None:
        return None
    return keys, columns


def read_prepared_records(prepared: Iterable[Tuple[bytes, object]], *, source: str,
                          warn: Callable[[str], None], on_lost: Callable[[int], None] = lambda count: None,
                          runs: bool = False,
                          unpack: Optional[Callable[[bytes, object], Tuple[List[int], list]]] = None,
                          ) -> Iterator[Tuple[List[int], list]]:
    """read_records for (chunk, sorted_canonical_chunk(chunk)) pairs, however computed.

    With `runs`, a chunk that sorted_canonical_chunk sorted comes as ((first, last),
    Run), its lines in one bytes object (see sort.Run): for a consumer that
    only writes lines out; without, as its keys and lines.  With `unpack`,
    the pairs hold what a renderer's own prepare step made of a canonical
    chunk (None when it declined it), and unpack(chunk, that) gives its keys
    and items in key order; that step declines a chunk with a Lost line, so
    that every Lost is seen here.
    """
    warned: set = set()
    lineno = 1
    for body, ordered in prepared:
        if ordered is not None and unpack is not None:
            keys, items = unpack(body, ordered)  # a Lost line is declined, and comes below
            lineno += len(keys)
            yield keys, items
            continue
        if ordered is not None:
            text, keys, lost = ordered
            lineno += len(keys)
            if lost:
                _report_lost(body, on_lost)
            yield as_run((text, keys)) if runs else (keys.tolist(), text.split(b"\n"))
            continue
        lines = lines_of(body)
        first, lineno = lineno, lineno + len(lines)
        keys, records = [], []
        for number, line in enumerate(lines, first):
            if not line.strip():
                continue
            match = _compiled(_CANONICAL).fullmatch(line) if _is_utf8(line) else None
            record = line if match else _decode_one(line, number, source, warned, warn)
            if record is None:
                continue
            if match:
                keys.append(int(_timestamp(match.groups(b""))))
                record_event = as_event(record) if line.startswith(b'{"Lost"') else None
            else:
                keys.append(record.timestamp)
                record_event = record
            if isinstance(record_event, Lost):
                on_lost(record_event.count)
            records.append(record)
        if records:
            yield keys, records


def _report_lost(body: bytes, on_lost: Callable[[int], None]) -> None:
    """on_lost(count) for each Lost line of a chunk of canonical lines."""
    if b'{"Lost"' in body:
        for line in body.split(b"\n"):
            if line.startswith(b'{"Lost"'):
                on_lost(as_event(line).count)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def as_event(record) -> Event:
    """A record from read_records -> an Event (decoding a canonical line)."""
    if not isinstance(record, bytes):
        return record
    kind, body = fields_of(record)
    if kind == "Exec":
        body["cmdline"] = tuple(body["cmdline"])
    return KINDS[kind](**body)


def fields_of(record) -> Tuple[str, dict]:
    """A record -> (kind, {field: value}), cheaper than building an Event.

    For canonical lines only: read_records has already checked them, so
    they are decoded without another check.
    """
    if isinstance(record, bytes):
        (kind, body), = leading_json(record.decode("utf-8")).items()
        return kind, body
    return type(record).__name__, dict(zip(record.FIELDS, record._values()))


def leading_json(text: str):
    """The JSON value `text` starts with, decoded by the C scanner itself (what
    follows it is ignored): checked text needs none of json.loads' wrapping."""
    return _scanner()(text, 0)[0]


@lru_cache(maxsize=None)
def _scanner():
    import json.scanner
    return json.scanner.make_scanner(json.JSONDecoder())


def as_line(record) -> bytes:
    """A record from read_records -> its canonical JSON line, without newline."""
    return record if isinstance(record, bytes) else to_json(record).encode("utf-8")


def merge_legacy(batches: Iterable[list]) -> Iterator[list]:
    """Fold the original's ExecArgs/ExecFilename into the Exec they follow.

    The original wrote an Exec, then an ExecArgs with the same pid and
    timestamp holding the arguments as one space-joined string; it fills in
    the cmdline when the Exec's is empty (splitting on spaces: the best that
    string allows).  Needs timestamp order, which keeps the Exec first.
    Works on batches of records (canonical lines or events); a batch's last
    Exec waits for the next batch, which may hold its ExecArgs.
    """
    carry: list = []
    for batch in batches:
        if carry:
            batch = carry + batch
            carry = []
        if not _LEGACY_SET.isdisjoint(map(type, batch)):
            batch = list(_merge_flat(batch))
        if batch and _is_exec(batch[-1]):
            carry.append(batch.pop())
        if batch:
            yield batch
    if carry:
        yield carry


_LEGACY_TYPES = (ExecArgs, ExecFilename)
_LEGACY_SET = frozenset(_LEGACY_TYPES)


def _is_exec(record) -> bool:
    return isinstance(record, Exec) or (type(record) is bytes and record.startswith(b'{"Exec"'))


def _merge_flat(records: list) -> Iterator:
    pending = None
    for record in records:
        if type(record) in _LEGACY_TYPES:
            if pending is not None:
                pending = as_event(pending)
                if (pending.pid, pending.timestamp) == (record.pid, record.timestamp):
                    if isinstance(record, ExecArgs) and not pending.cmdline and record.args:
                        pending = _replace_exec(pending, cmdline=tuple(record.args.split(" ")))
                    elif isinstance(record, ExecFilename) and pending.filename is None:
                        pending = _replace_exec(pending, filename=record.filename)
            continue
        if pending is not None:
            yield pending
            pending = None
        if _is_exec(record):
            pending = record
        else:
            yield record
    if pending is not None:
        yield pending


def _replace_exec(event: Exec, **changes) -> Exec:
    values = dict(zip(Exec.FIELDS, event._values()))
    values.update(changes)
    return Exec(**values)


# The exact form to_json writes, kind by kind: a line that matches is valid
# (right fields, types and JSON string syntax), so it needs no decoding to be
# passed on.  One findall over a chunk checks every line in C.
_N = rb"(?:0|[1-9][0-9]*)"
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


def _canonical_pattern(string: bytes = _S) -> bytes:
    # one alternative a kind, each with a group for the timestamp: findall
    # gives a tuple a line, the timestamp and empty strings (_timestamp)
    kinds = b"|".join(rb'%s":\{"timestamp":(%%(N)s),%s' % (kind, fields_re) for kind, fields_re in _REST)
    pattern = rb'^\{"(?:' + kinds + rb')\}\}$'
    pattern = pattern % {b"N": _N, b"S": string}
    if sys.version_info >= (3, 11):
        # Possessive repeats match the same lines here (what each repeats cannot
        # match what follows it), but keep no state to backtrack to: 1.5x faster.
        pattern = pattern.replace(b"*", b"*+")
    return pattern


_CANONICAL = _canonical_pattern()


# canonical_fields' tuples: what each field holds, by index (the first six are empty)
#   {"Fork":{"timestamp":5,"parent_pid":1,"child_pid":2,"parent_pgid":1}} -> (b"",)*6 + (b"r", b"5", b"1", b"2", b"", b"", b"")
#   {"Exit":{"timestamp":6,"pid":2,"ppid":1,"pgid":2,"exit_code":0,"signal":null}}
#     -> (b"",)*6 + (b"i", b"6", b"", b"2", b"1", b"", b',"exit_code":0,"signal":null')
CODE = 6         # the kind's third letter: r Fork, e Exec, i Exit, t SetSID and SetPGID, s Lost
TIMESTAMP = 7
FORK_PARENT = 8  # a Fork's parent_pid (b"" for the other kinds)
PID = 9          # the process it is about: a Fork's child_pid, the others' pid (b"" for Lost)
PPID = 10        # the pid's parent, but for a Fork (b"" for Fork and Lost)
ARGV = 11        # an Exec's cmdline, in JSON
TAIL = 12        # an Exec's ',"cmdline_truncated":true', an Exit's sid and status, a SetSID's sid


def _fields_pattern(string: bytes = _S) -> bytes:
    # The lines _canonical_pattern matches (a test checks it), with the same
    # groups for every kind: each kind name sets an empty group, and later
    # parts branch on it with (?(name)...|...).  Lost is never the common case.
    pattern = (
        rb'^\{"(?:F(?=ork")(?P<f>)|E(?=xec")(?P<e>)|E(?=xit")(?P<x>)|S(?=etSID")(?P<s>)|S(?=etPGID")(?P<p>)'
        rb'|L(?=ost")(?P<l>))\w(\w)\w*":\{"timestamp":(%(N)s),'
        rb'(?(l)"count":%(N)s|'
        rb'(?(f)"parent_pid":(%(N)s),"child_pid"|"pid"):(%(N)s),(?(f)"parent_pgid":%(N)s|"ppid":(%(N)s),"pgid":%(N)s)'
        rb'(?(e),"cmdline":(\[(?:%(S)s(?:,%(S)s)*)?\])(?:,"filename":%(S)s)?(?:,"sid":%(N)s)?)'
        rb'((?(e)(?:,"cmdline_truncated":true)?'
        rb'|(?(x)(?:,"sid":%(N)s)?(?:,"exit_code":%(N)s,"signal":null|,"exit_code":null,"signal":%(N)s)?'
        rb'|(?(s),"sid":%(N)s|)))))'
        rb'\}\}$') % {b"N": _N, b"S": string}
    if sys.version_info >= (3, 11):
        pattern = pattern.replace(b"*", b"*+")  # as in _canonical_pattern
    return pattern


_FIELDS = _fields_pattern()
_FIELD_TIMESTAMP = itemgetter(TIMESTAMP)
# For chunks without backslashes and control characters (but newlines): the
# simpler string pattern may run past a line's end, but then that match
# swallows two lines and the count of matches falls short of the count of
# lines, so the chunk is read line by line.
_CANONICAL_PLAIN = _canonical_pattern(rb'"[^"]*"')
_FIELDS_PLAIN = _fields_pattern(rb'"[^"]*"')
_CONTROL = bytes(range(0, 10)) + bytes(range(11, 32))
_CONTROL_OR_ESCAPE = _CONTROL + b"\\"
_LOST_TIMESTAMP = itemgetter(5)  # of a canonical match's groups: a Lost's, empty for other kinds
_timestamp = b"".join  # of a match's groups: one is the timestamp, the others empty
