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

from itertools import accumulate, chain, compress, repeat
from operator import itemgetter, sub

from proctrace.analysis import critical_path, end_of, outlived
from proctrace.model import collector_paused, raw_fields, raw_fields_of
from proctrace.render.timeline import cmdline_texts, json_str, labels, safe_json, tree_order

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Tuple

    from proctrace.model import Process, Recording

__all__ = ["render", "Q"]

Q = 16384  # time quantum: 2^-14 us, written exactly as a decimal: m / 2^14 = m * 5^14 / 10^14
# the 14 digits after the point of each fraction of a microsecond
_DIGITS = [b"%014d" % (fraction * 5**14) for fraction in range(Q)]
_BATCH = 8192  # processes written at a time: a few MB of text
_PID_LIMIT = 2**31  # Perfetto keeps pids as 32-bit numbers

# its names, its place, its life (completed with its flow, if any)
_PROCESS = (b'{"ph":"M","pid":%d,"name":"process_name","args":{"name":%s}},\n'
            b'{"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":%d}},\n'
            b'{"ph":"X","pid":%d,"tid":%d,"ts":%d.%s,"dur":%d.%s,"name":%s,"cat":"process",'
            b'"args":{"pid":%d,"ppid":%d,%s}')
_EXEC = b'{"ph":"X","pid":%d,"tid":%d,"ts":%d.%s,"dur":%d.%s,"name":%s,"cat":"exec","args":{%s}},\n'
_FORK = b'{"ph":"X","pid":%d,"tid":%d,"ts":%d.%s,"dur":%d.%s,"name":"fork","cat":"fork","bind_id":%d,"flow_out":true},\n'
_CHANGE = b'{"ph":"i","s":"p","pid":%d,"tid":%d,"ts":%d.%s,"name":"%s","cat":"group","args":{%s}},\n'
_SEGMENT = (b'{"ph":"X","pid":%d,"tid":%d,"ts":%d.%s,"dur":%d.%s,"name":%s,"cat":"critical path",'
            b'"args":{"pid":%d}},\n')
_NO_EXIT = b'"exit":"none seen: drawn to the end of the recording"'
_UNKNOWN = json_str("(unknown command)")
_BEFORE_EXEC = json_str("(before its first exec)")  # a critical-path segment's name, as the summary says it


def render(recording: Recording, *, warn: Callable[[str], None], options=None) -> Iterator[bytes]:
    """The process model -> Chrome trace-event JSON (one event a line)."""
    procs, parents = tree_order(recording)
    first = recording.first_ns
    tpids = _trace_pids(procs)
    path_pid = max(tpids, default=0) + 1
    info = {"written_by": "proctrace render -f perfetto", "processes": len(procs), "first_ns": first,
            "hidden_below_min_duration": recording.hidden, "lost_events": recording.lost_count}
    yield b'{"otherData":%s,\n"traceEvents":[\n' % json.dumps(info).encode("ascii")
    with collector_paused():  # (the tables made here hold no cycles: nothing to collect)
        yield from _critical_path(recording, path_pid, first)
        outliving = {proc: after for root in recording.roots for proc, after in outlived(recording, root)}
        for start in range(0, len(procs), _BATCH):
            yield _batch(recording, procs, parents, tpids, start, min(start + _BATCH, len(procs)), outliving)
    yield b'{"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":0}}\n]}\n' % path_pid


def _trace_pids(procs: List[Process]) -> List[int]:
    """Each process's Perfetto pid: its own, unless an earlier process had it or it is out of range."""
    pids = [proc.pid for proc in procs]
    if not pids or (len(set(pids)) == len(pids) and 0 < min(pids) and max(pids) < _PID_LIMIT):
        return pids
    fresh = max((pid for pid in pids if 0 < pid < _PID_LIMIT), default=0) + 1
    used = set()
    tpids = []
    for pid in pids:
        if 0 < pid < _PID_LIMIT and pid not in used:
            used.add(pid)
        else:
            pid, fresh = fresh, fresh + 1
        tpids.append(pid)
    return tpids


def _q(ns: int, first: int) -> int:
    """A time as a whole number of quanta from the first event."""
    return ((ns - first) * Q + 500) // 1000


def _critical_path(recording: Recording, pid: int, first: int) -> Iterator[bytes]:
    yield b'{"ph":"M","pid":%d,"name":"process_name","args":{"name":"critical path"}},\n' % pid
    if not recording.roots:
        return
    segments = critical_path(recording, recording.roots[0], slack_ns=0)  # (near siblings are not drawn)
    known = [segment for segment in segments if segment.step is not None]
    names: Dict[int, bytes] = dict(zip(map(id, known), labels(cmdline_texts(raw_fields_of([s.step for s in known])))))
    starts = [_q(segment.start_ns, first) for segment in segments]
    ends = [_q(segment.end_ns, first) for segment in segments]
    yield b"".join(map(_SEGMENT.__mod__, zip(repeat(pid), repeat(pid), *_us(starts), *_us(map(sub, ends, starts)),
                                              [names.get(id(segment), _BEFORE_EXEC) for segment in segments],
                                              [segment.pid for segment in segments])))


def _batch(recording: Recording, procs: List[Process], parents: List[int], tpids: List[int], begin: int, stop: int,
           outliving: Dict[Process, int]) -> bytes:
    """The events of processes procs[begin:stop]: their slices, their execs, the arrows to them.

    Each kind of event is written from columns by one format over them all
    (a C loop): a Python statement per process would cost seconds.
    """
    first, last = recording.first_ns, recording.last_ns
    part = procs[begin:stop]
    ids = tpids[begin:stop]
    pids = [proc.pid for proc in part]
    ppids = [proc.ppid for proc in part]
    starts = [((proc.start_ns - first) * Q + 500) // 1000 for proc in part]
    ends = [(((proc.end_ns if proc.end_ns is not None else last) - first) * Q + 500) // 1000 for proc in part]

    execs = [proc.execs for proc in part]  # (each call makes a list)
    counts = list(map(len, execs))
    steps = list(chain.from_iterable(execs))
    del execs
    rests = raw_fields_of(steps)
    step_names = labels(cmdline_texts(rests))
    # a process is named by its last exec, or by what it was forked running
    names = [step_names[index - 1] if count else _forked_name(proc)
             for proc, count, index in zip(part, counts, accumulate(counts))]

    exits = [rest or _NO_EXIT for rest in raw_fields_of(part)]
    for offset in [offset for offset, proc in enumerate(part) if not proc.forked or proc in outliving]:
        proc = part[offset]
        if not proc.forked:
            exits[offset] += b',"fork_seen":false'
        if proc in outliving:
            exits[offset] += b',"outlived_root_by_ns":%d' % outliving[proc]

    # an arrow from the parent at the fork: a 1 ns slice on the parent just
    # before the child's, which Perfetto binds it to (it drops a flow it
    # cannot bind, and one at the child's own time could come after it)
    linked = [parent >= 0 and procs[parent].start_ns < proc.start_ns
              for parent, proc in zip(parents[begin:stop], part)]
    out = []
    for fmt, wanted in ((_PROCESS + b',"bind_id":%d,"flow_in":true},\n', True), (_PROCESS + b"},\n", False)):
        chosen = [offset for offset, flag in enumerate(linked) if flag is wanted]
        if not chosen:
            continue
        pick = itemgetter(*chosen) if len(chosen) > 1 else lambda column, at=chosen[0]: (column[at],)
        these_ids, these_names = pick(ids), pick(names)
        these_starts, these_ends = pick(starts), pick(ends)
        columns = [these_ids, these_names, these_ids, [begin + 1 + offset for offset in chosen], these_ids, these_ids,
                   *_us(these_starts), *_us(map(sub, these_ends, these_starts)), these_names, pick(pids), pick(ppids),
                   pick(exits)]
        if wanted:
            columns.append([begin + offset for offset in chosen])
        out.append(b"".join(map(fmt.__mod__, zip(*columns))))
    children = [offset for offset, flag in enumerate(linked) if flag]
    if children:
        parent_ids = [tpids[parents[begin + offset]] for offset in children]
        at = [starts[offset] for offset in children]
        before = [((part[offset].start_ns - 1 - first) * Q + 500) // 1000 for offset in children]
        out.append(b"".join(map(_FORK.__mod__, zip(parent_ids, parent_ids, *_us(before), *_us(map(sub, at, before)),
                                                    [begin + offset for offset in children]))))

    # a slice per exec, from it to the next exec or to the process's end
    owners = list(chain.from_iterable(map(repeat, ids, counts)))
    begins = [((step.timestamp - first) * Q + 500) // 1000 for step in steps]
    stops = begins[1:] + [0]
    for index, end in zip(compress(accumulate(counts), counts), compress(ends, counts)):
        stops[index - 1] = end
    if b"\\u" in b"".join(rests):  # an escape a viewer could refuse (a lone surrogate): write it visibly
        rests = [safe_json("{" + rest.decode("utf-8") + "}")[1:-1] if b"\\u" in rest else rest for rest in rests]
    out.append(b"".join(map(_EXEC.__mod__, zip(
        owners, owners, *_us(begins), *_us(map(sub, stops, begins)), step_names, rests))))

    out.extend(_CHANGE % (pid, pid, _q(change.timestamp, first) >> 14, _DIGITS[_q(change.timestamp, first) & 16383],
                          change.kind.encode(),
                          raw_fields(change))
               for proc, pid in zip(part, ids) if proc.changes for change in proc.changes)
    return b"".join(out)


def _us(quanta) -> Tuple[List[int], List[bytes]]:
    """Whole numbers of quanta -> microseconds, as two columns: the whole part and
    the 14 digits after the point (exact: a quantum is a binary fraction)."""
    quanta = list(quanta)
    return [count >> 14 for count in quanta], [_DIGITS[count & 16383] for count in quanta]


def _forked_name(proc: Process) -> bytes:
    """The name of a process that never exec'd: the command it was forked running."""
    step = proc.command_step()
    if step is None:
        return _UNKNOWN[:-1] + b' (fork)"'
    name = labels(cmdline_texts([raw_fields(step)]))[0]
    return name[:-1] + b' (fork)"'
