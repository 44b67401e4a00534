"""The rules a Chrome trace-event file must keep for Perfetto to show it as meant (used by the tests).

check_trace(data) asserts them and returns what it read: slices per track,
the process names, the flows.  Times are read the way Perfetto's JSON
importer reads them (microseconds times 1000, rounded to the nanosecond),
and once more the way speedscope and chrome://tracing do (floating-point
microseconds, each track shifted to its first event), so that a slice that
nests in one reading nests in the other.
"""

import json
import re

PHASES = {"M", "X", "i"}
# an escaped surrogate: an odd number of backslashes, then u and D800-DFFF
ESCAPED_SURROGATE = re.compile(r'(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}')


def ns_of(value):
    """Perfetto's reading of a time in microseconds: the nearest nanosecond."""
    ns = value * 1000.0
    exact = round(ns)
    assert abs(ns - exact) < 0.1, f"{value} us is not within 0.1 ns of a whole nanosecond"
    return exact


def _check_nesting(slices, what):
    """slices: (start, end, index) on one track; each must nest in the one open before it or follow it."""
    open_ends = []
    for start, end, index in sorted(slices, key=lambda s: (s[0], -(s[1] - s[0]), s[2])):
        while open_ends and open_ends[-1] <= start:
            open_ends.pop()
        assert not open_ends or end <= open_ends[-1], \
            f"{what}: slice {index} [{start}, {end}] overlaps one that ends at {open_ends[-1]}"
        open_ends.append(end)


def check_trace(data: bytes) -> dict:
    text = data.decode("utf-8")
    assert not ESCAPED_SURROGATE.search(text), "Perfetto refuses an escaped surrogate"
    trace = json.loads(text)
    events = trace["traceEvents"]
    names, sort_index, tracks, outs, ins = {}, {}, {}, {}, {}
    for index, event in enumerate(events):
        phase = event["ph"]
        assert phase in PHASES, event
        assert type(event["pid"]) is int and 0 < event["pid"] < 2**31, event
        if phase == "M":
            if event["name"] == "process_name":
                assert event["pid"] not in names, f"pid {event['pid']} named twice"
                names[event["pid"]] = event["args"]["name"]
                assert names[event["pid"]], "Perfetto drops an empty process name"
            elif event["name"] == "process_sort_index":
                sort_index[event["pid"]] = event["args"]["sort_index"]
            continue
        assert event["tid"] == event["pid"], event
        assert isinstance(event["name"], str) and event["name"], event
        start = ns_of(event["ts"])
        assert start >= 0, event
        if phase == "i":
            assert event["s"] == "p", event
            continue
        end = start + ns_of(event["dur"])
        assert end >= start, event
        tracks.setdefault(event["pid"], []).append((start, end, index, event))
        if "bind_id" in event:
            assert event.get("flow_out") != event.get("flow_in"), event
            side = outs if event.get("flow_out") else ins
            assert event["bind_id"] not in side, f"bind_id {event['bind_id']} used twice"
            side[event["bind_id"]] = (start, end, event)
    used = {event["pid"] for event in events}
    assert used <= set(names), f"pids without a process_name: {sorted(used - set(names))}"
    assert used <= set(sort_index), f"pids without a process_sort_index: {sorted(used - set(sort_index))}"
    for pid, slices in tracks.items():
        _check_nesting([(s, e, i) for s, e, i, _ in slices], f"pid {pid}")
        # speedscope's reading: float microseconds, less the track's first time
        origin = min(event["ts"] for _, _, _, event in slices)
        floats = [(event["ts"] - origin, event["ts"] - origin + event["dur"], i) for _, _, i, event in slices]
        _check_nesting(floats, f"pid {pid} (in floating point)")
    # every flow bound: begun on a slice that starts before the slice that ends it
    assert set(outs) == set(ins), f"flows with one end only: {sorted(set(outs) ^ set(ins))}"
    for bind_id, (start, end, event) in outs.items():
        child_start = ins[bind_id][0]
        assert (start, end) == (child_start - 1, child_start), (event, ins[bind_id][2])
    return {"names": names, "sort_index": sort_index, "tracks": tracks, "flows": outs, "trace": trace}


def critical_path_slices(checked: dict):
    """The critical path pseudo-process's slices, in order: they must tile its span."""
    pid, = [pid for pid, name in checked["names"].items() if name == "critical path"]
    assert checked["sort_index"][pid] < min(index for other, index in checked["sort_index"].items() if other != pid)
    slices = sorted(checked["tracks"].get(pid, []), key=lambda s: s[0])
    for (_, end, _, _), (start, _, _, _) in zip(slices, slices[1:]):
        assert end == start, "the critical path's slices leave a gap or overlap"
    return slices
