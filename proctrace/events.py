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

from proctrace.errors import ParseError, ProctraceError, TracerError

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

__all__ = [
    "Fork", "Exec", "Exit", "SetSID", "SetPGID", "Lost", "ExecArgs", "ExecFilename", "KINDS", "LEGACY",
    "ProctraceError", "ParseError", "TracerError", "UnknownKind",
    "to_json", "from_json", "timestamp_of_line", "as_line", "merge_legacy",
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
    _SETTERS: tuple = ()

    def __init__(self, *args, **kwargs):
        names = self.FIELDS
        if not kwargs and len(args) == len(names):  # every field given in order: what the recorder does
            for set_field, value in zip(self._SETTERS, args):
                set_field(self, value)
            return
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
for _kind in (*KINDS.values(), ExecArgs, ExecFilename):
    # each slot's own setter, called directly: a third cheaper than object.__setattr__ by name
    _kind._SETTERS = tuple(getattr(_kind, name).__set__ for name in _kind.FIELDS)
del _kind
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

# Lone surrogates stand for argv bytes that are not UTF-8 (surrogateescape,
# U+DC80 to U+DCFF); a recording may hold others as escapes (\ud800).
# None can be written as UTF-8, so they go out as JSON \uXXXX escapes again.
_SURROGATE = re.compile("[\ud800-\udfff]")
# What a JSON string cannot hold as it is: the rest is written between quotes unchanged
# (json.dumps with ensure_ascii=False escapes only these, and the surrogates are ours)
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\ud800-\udfff]')


def _escape_surrogate(match: re.Match) -> str:
    return "\\u%04x" % ord(match.group())


def _dump_str(text: str) -> str:
    if not _NEEDS_ESCAPE.search(text):
        return '"%s"' % text
    import json  # here, not at the top: checked lines never need it, and it costs start-up time
    out = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(_escape_surrogate, out) if _SURROGATE.search(out) else out


def _dump_argv(argv: Tuple[str, ...]) -> str:
    """A JSON array of the arguments: checked for escapes once, as a whole (few argvs need any)."""
    if not argv:
        return "[]"
    if not _NEEDS_ESCAPE.search("".join(argv)):
        return '["%s"]' % '","'.join(argv)
    return "[" + ",".join(map(_dump_str, argv)) + "]"


def _status(event) -> str:
    """An Exit's optional fields: sid, then exit_code and signal, both or neither."""
    text = "" if event.sid is None else ',"sid":%d' % event.sid
    code, signal = event.exit_code, event.signal
    if code is None and signal is None:
        return text
    return text + ',"exit_code":%s,"signal":%s' % ("null" if code is None else "%d" % code,
                                                    "null" if signal is None else "%d" % signal)


def _exec_json(event: Exec) -> str:
    text = '{"Exec":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d,"cmdline":%s' % (
        event.timestamp, event.pid, event.ppid, event.pgid, _dump_argv(event.cmdline))
    if event.filename is not None:
        text += ',"filename":' + _dump_str(event.filename)
    if event.sid is not None:
        text += ',"sid":%d' % event.sid
    return text + (',"cmdline_truncated":true}}' if event.cmdline_truncated else "}}")


# One writer a kind, the fields in the order of its FIELDS (the original's order).
_WRITERS = {
    Fork: lambda e: '{"Fork":{"timestamp":%d,"parent_pid":%d,"child_pid":%d,"parent_pgid":%d}}' % (
        e.timestamp, e.parent_pid, e.child_pid, e.parent_pgid),
    Exec: _exec_json,
    Exit: lambda e: '{"Exit":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d%s}}' % (
        e.timestamp, e.pid, e.ppid, e.pgid, _status(e)),
    SetSID: lambda e: '{"SetSID":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d,"sid":%d}}' % (
        e.timestamp, e.pid, e.ppid, e.pgid, e.sid),
    SetPGID: lambda e: '{"SetPGID":{"timestamp":%d,"pid":%d,"ppid":%d,"pgid":%d}}' % (
        e.timestamp, e.pid, e.ppid, e.pgid),
    Lost: lambda e: '{"Lost":{"timestamp":%d,"count":%d}}' % (e.timestamp, e.count),
}


def to_json(event: Event) -> str:
    """One JSON line (without newline); optional fields are left out when unknown."""
    return _WRITERS[type(event)](event)


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
            return f"{kind} field {name!r} must be {expected}, not {_shown(value)}"
    return None


def _shown(value) -> str:
    """A value in a message: JSON, cut short (a huge or deep one must not raise)."""
    import json
    try:
        return json.dumps(value)[:40]
    except (ValueError, RecursionError):
        return f"a value of type {type(value).__name__}"


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
    except RecursionError:
        raise ValueError("not a JSON event (nested too deeply)") from None
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


def timestamp_of_line(line: bytes) -> int:
    """The timestamp of one line in any field order; ValueError when it has none."""
    match = _TIMESTAMP_LINE.match(line)
    if match and len(match.group(1)) <= 20:
        return int(match.group(1))
    import json  # only lines in other forms need it
    try:
        obj = json.loads(line)
    except RecursionError:
        raise ValueError("not a JSON event (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError):
        stripped = line.strip()
        if stripped.startswith(b"{") and not stripped.endswith(b"}"):
            raise ValueError("truncated or malformed JSON") from None
        raise ValueError("not a JSON event") from None
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError("an event must be an object with exactly one key naming its kind")
    (kind, body), = obj.items()
    if not isinstance(body, dict):
        raise ValueError(f"{kind!r} must map to an object of fields")
    if "timestamp" not in body:
        raise ValueError(f"{kind} event has no 'timestamp' field")
    stamp = body["timestamp"]
    if type(stamp) is not int or stamp < 0:
        raise ValueError(f"{kind} field 'timestamp' must be a non-negative integer, not {_shown(stamp)}")
    return stamp


# {"Exec":{"seq":4,"timestamp":825573691,...}}  -- our writer puts the timestamp
# first, the original's later versions after "seq".
_TIMESTAMP_LINE = re.compile(rb'^[ \t]*\{"[A-Za-z]+":\{(?:"seq":\d+,)?"timestamp":(\d+)(?=[,}])[^\n]*\}\}[ \t\r]*$', re.M)


def as_line(record) -> bytes:
    """A canonical line (bytes, kept as it is) or an event -> its canonical line, without newline."""
    return record if isinstance(record, bytes) else to_json(record).encode("utf-8")


def merge_legacy(exec_event: Exec, record) -> Optional[Exec]:
    """The Exec that `record`, an ExecArgs or ExecFilename of the original, completes;
    None when it does not belong to this Exec (another pid or time).

    The original wrote an Exec, then an ExecArgs with the same pid and
    timestamp holding the arguments as one space-joined string; it fills in
    the cmdline when the Exec's is empty (splitting on spaces: the best that
    string allows), as an ExecFilename fills a missing filename.
    """
    if (exec_event.pid, exec_event.timestamp) != (record.pid, record.timestamp):
        return None
    values = dict(zip(Exec.FIELDS, exec_event._values()))
    if isinstance(record, ExecArgs) and not exec_event.cmdline and record.args:
        values["cmdline"] = tuple(record.args.split(" "))
    elif isinstance(record, ExecFilename) and exec_event.filename is None:
        values["filename"] = record.filename
    return Exec(**values)


LEGACY = (ExecArgs, ExecFilename)
