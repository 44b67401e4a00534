"""Chrome trace-event JSON of the process tree, for Perfetto (ui.perfetto.dev) and chrome://tracing.

Each process of the recording is a Perfetto process of its own, named
after its command and sorted depth first: one complete (`X`) slice for its
life, fork to exit, holding a slice per exec (from that exec to the next, or
to the exit), named by the command and carrying the exact argv and the ids
in its args; setsid and setpgid are instant events on the process; an arrow
(a flow) goes from each parent to each child it forked; a "critical path"
process at the top holds a slice per segment of the root's critical path
(analysis.critical_path).

    {"ph":"X","pid":4242,"tid":4242,"ts":0.0,"dur":812000.0,"name":"make -j8","cat":"process","args":{...}}

Times are microseconds from the first event.  Each is the multiple of
2^-14 us nearest to the exact nanosecond (within 0.031 ns), so that a
viewer that adds times in floating point (speedscope, chrome://tracing)
sees a slice end exactly where the next one starts, while Perfetto, which
rounds to the nanosecond, gets every time exact.  Slices on a track nest
strictly (Perfetto moves one that overlaps another partially to an
overflow track).  A process with no Exit is drawn to the end of the
recording and says so in its args.

A Perfetto pid is the OS pid, but a pid the recording uses twice (or one
out of range) gets a fresh number above every real pid: `args.pid` has the
real one.  Strings are UTF-8: a byte of argv that is not UTF-8 shows as the
text `\\xNN` (Perfetto rejects the escape of a lone surrogate, and UTF-8
cannot hold one); the recording keeps the exact bytes.
"""

from __future__ import annotations

import json

from itertools import accumulate, islice

from proctrace import __version__
from proctrace.analysis import critical_path, end_of, outlived
from proctrace.model import raw_fields
from proctrace.render.timeline import exec_columns, json_str, labels, safe_json, tree_order

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Optional

    from proctrace.model import Process, Recording

__all__ = ["render", "Q"]

Q = 16384  # time quantum: 2^-14 us
_BATCH = 8192  # processes written at a time: a few MB of text
_PID_LIMIT = 2**31  # Perfetto keeps pids as 32-bit numbers

_PROCESS = (b'{"ph":"M","pid":%d,"name":"process_name","args":{"name":%s}},\n'
            b'{"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":%d}},\n'
            b'{"ph":"X","pid":%d,"tid":%d,"ts":%r,"dur":%r,"name":%s,"cat":"process","args":{%s}%s},\n')
_EXEC = (b'{"ph":"X","pid":%d,"tid":%d,"ts":%r,"dur":%r,"name":%s,"cat":"exec",'
         b'"args":{"pid":%d,"ppid":%d,%s}},\n')
_FORK = (b'{"ph":"X","pid":%d,"tid":%d,"ts":%r,"dur":%r,"name":"fork","cat":"fork","args":{"child_pid":%d},'
         b'"bind_id":%d,"flow_out":true},\n')
_CHANGE = b'{"ph":"i","s":"p","pid":%d,"tid":%d,"ts":%r,"name":"%s","cat":"group","args":{%s}},\n'
_SEGMENT = (b'{"ph":"X","pid":%d,"tid":%d,"ts":%r,"dur":%r,"name":%s,"cat":"critical path",'
            b'"args":{"pid":%d}},\n')
_NO_EXIT = b',"exit":"none seen: drawn to the end of the recording"'
_UNKNOWN = json_str("(unknown command)")


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> Chrome trace-event JSON (one event a line)."""
    procs, parents = tree_order(recording)
    first = recording.first_ns
    tpids = _trace_pids(procs)
    path_pid = max(tpids, default=0) + 1
    info = {"proctrace": __version__, "processes": len(procs), "first_ns": first,
            "hidden_below_min_duration": recording.hidden, "lost_events": recording.lost_count}
    yield b'{"otherData":%s,\n"traceEvents":[\n' % json.dumps(info).encode("ascii")
    yield from _critical_path(recording, path_pid, first)
    outliving = {proc: after for root in recording.roots for proc, after in outlived(recording, root)}
    for start in range(0, len(procs), _BATCH):
        yield _batch(recording, procs, parents, tpids, start, min(start + _BATCH, len(procs)), outliving)
    yield b'{"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":0}}\n]}\n' % path_pid


def _trace_pids(procs: List[Process]) -> List[int]:
    """Each process's Perfetto pid: its own, unless an earlier process had it or it is out of range."""
    fresh = max((proc.pid for proc in procs if 0 < proc.pid < _PID_LIMIT), default=0) + 1
    used = set()
    tpids = []
    for proc in procs:
        pid = proc.pid
        if 0 < pid < _PID_LIMIT and pid not in used:
            used.add(pid)
        else:
            pid, fresh = fresh, fresh + 1
        tpids.append(pid)
    # the critical path comes right after the real pids: keep them below it
    return tpids


def _q(ns: int, first: int) -> int:
    """A time as a whole number of quanta from the first event."""
    return ((ns - first) * Q + 500) // 1000


def _critical_path(recording: Recording, pid: int, first: int) -> Iterator[bytes]:
    yield b'{"ph":"M","pid":%d,"name":"process_name","args":{"name":"critical path"}},\n' % pid
    if not recording.roots:
        return
    segments = critical_path(recording, recording.roots[0])
    known = [segment for segment in segments if segment.step is not None]
    names: Dict[int, bytes] = dict(zip(map(id, known), labels([cmdline for _, cmdline, *_ in
                                                               exec_columns([s.step for s in known])])))
    starts = [_q(segment.start_ns, first) for segment in segments]
    ends = [_q(segment.end_ns, first) for segment in segments]
    yield b"".join(_SEGMENT % (pid, pid, start / Q, (end - start) / Q, names.get(id(segment), _UNKNOWN), segment.pid)
                   for segment, start, end in zip(segments, starts, ends))


def _batch(recording: Recording, procs: List[Process], parents: List[int], tpids: List[int], begin: int, stop: int,
           outliving: Dict[Process, int]) -> bytes:
    """The events of processes procs[begin:stop]: their slices, their execs, the arrows to them."""
    first, last = recording.first_ns, recording.last_ns
    part = procs[begin:stop]
    ids = tpids[begin:stop]
    starts = [_q(proc.start_ns, first) for proc in part]
    ends = [_q(end_of(proc, recording), first) for proc in part]

    steps = [step for proc in part for step in proc.execs]
    columns = exec_columns(steps)
    step_names = labels([cmdline for _, cmdline, *_ in columns])
    # a process is named by its last exec, or by what it was forked running
    last_exec = list(accumulate(len(proc.execs) for proc in part))
    names = [step_names[index - 1] if proc.execs else _forked_name(proc) for proc, index in zip(part, last_exec)]

    args = [b'"pid":%d,"ppid":%d,%s' % (proc.pid, proc.ppid, raw_fields(proc)) if proc.end_ns is not None
            else b'"pid":%d,"ppid":%d%s' % (proc.pid, proc.ppid, _NO_EXIT) for proc in part]
    for offset, proc in enumerate(part):
        if not proc.forked:
            args[offset] += b',"fork_seen":false'
        if proc in outliving:
            args[offset] += b',"outlived_root_by_ns":%d' % outliving[proc]

    # an arrow from the parent at the fork: a 1 ns slice on the parent just
    # before the child's, which Perfetto binds it to (it drops a flow it
    # cannot bind, and one at the child's own time could come after it)
    flows, forks = [], []
    for index, proc in enumerate(part, begin):
        parent = parents[index]
        if parent >= 0 and procs[parent].start_ns < proc.start_ns:
            at = _q(proc.start_ns, first)
            before = _q(proc.start_ns - 1, first)
            forks.append(_FORK % (tpids[parent], tpids[parent], before / Q, (at - before) / Q, proc.pid, index))
            flows.append(b',"bind_id":%d,"flow_in":true' % index)
        else:
            flows.append(b"")
    out = [b"".join(map(_PROCESS.__mod__, zip(
        ids, names, ids, range(begin + 1, stop + 1), ids, ids, [start / Q for start in starts],
        [(end - start) / Q for start, end in zip(starts, ends)], names, args, flows)))]

    out.append(b"".join(_exec_slices(recording, part, ids, ends, steps, columns, step_names)))
    out.append(b"".join(forks))
    out.extend(_CHANGE % (pid, pid, _q(change.timestamp, first) / Q, change.kind.encode(), raw_fields(change))
               for proc, pid in zip(part, ids) if proc.changes for change in proc.changes)
    return b"".join(out)


def _exec_slices(recording: Recording, part: List[Process], ids: List[int], ends: List[int], steps, columns,
                 step_names: List[bytes]) -> Iterator[bytes]:
    """A slice per exec, from it to the next exec or the process's end."""
    first = recording.first_ns
    owners = [(proc, pid, end) for proc, pid, end in zip(part, ids, ends) for _ in proc.execs]
    starts = [_q(step.timestamp, first) for step in steps]
    following = starts[1:] + [0]
    for (proc, pid, end), step, start, after, name, fields in zip(owners, steps, starts, following, step_names,
                                                                  columns):
        stop = after if step is not proc.execs[-1] else end
        rest = raw_fields(step)
        if b"\\u" in rest:  # an escape a viewer could refuse (a lone surrogate): write it visibly
            rest = safe_json("{" + rest.decode("utf-8") + "}")[1:-1]
        yield _EXEC % (pid, pid, start / Q, (stop - start) / Q, name, proc.pid, proc.ppid, rest)


def _forked_name(proc: Process) -> bytes:
    """The name of a process that never exec'd: the command it was forked running."""
    step = proc.command_step()
    if step is None:
        return _UNKNOWN[:-1] + b' (fork)"'
    name = labels([exec_columns([step])[0][1]])[0]
    return name[:-1] + b' (fork)"'
