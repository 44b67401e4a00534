"""Which short processes a Mermaid chart leaves out, so that Mermaid draws it at all.

Mermaid draws only an error for a diagram over 50,000 characters, and
builds pass that quickly (a 565-process `make -j2` gave 101k characters,
gzip's `./configure` 400k).  So the chart hides the shortest leaves, as
--min-duration does (selection.hide_short_leaves): every process whose whole
subtree ran shorter than a threshold, never a root.  A process's key is
the longest duration in its subtree, so it is hidden at threshold t
exactly when its key is below t: one pass over the processes gives every
key, and no try at a threshold builds a chart.  Processes are taken by
key, longest first, each costing its lines of the chart, until the next
one would not fit; the threshold that hides the rest is rounded up to two
significant digits, so that the title can name it.  Only the processes
that are taken are labelled (their argv read): at 1M events, 333k
processes, that is a few hundred.

    fitted(recording, warn=print, cost=..., chart_size=...) -> hides 330522 processes under 16 ms
"""

from __future__ import annotations

from heapq import nlargest

from proctrace.model import Process, Recording

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, List, Optional

__all__ = ["MAX_TEXT_SIZE", "fitted", "subtree_keys", "root_key", "hide", "threshold_for", "round_up",
           "shown_duration"]

# Mermaid draws an error instead of a chart above this many characters (maxTextSize).
MAX_TEXT_SIZE = 50_000
HEAD_ROOM = 400   # for the chart's first lines and the title's notes
# No task line is shorter: "    #1; (pid 0, 0.00 ms) :done, 0, 1ms\n"
MIN_COST = 37


def root_key(recording: Recording) -> int:
    """The key of a root, which is never hidden: longer than anything in the recording."""
    return recording.last_ns - recording.first_ns + 1


def subtree_keys(recording: Recording) -> List[int]:
    """The longest duration (ns) in each process's subtree (root_key for a root), in the order of
    recording.processes."""
    procs = recording.processes
    last = recording.last_ns
    roots = set(recording.roots)
    root = root_key(recording)
    below: dict = {}  # a parent -> the largest key of its children so far (children come after parents)
    keys: List[int] = [0] * len(procs)
    for index in range(len(procs) - 1, -1, -1):
        proc = procs[index]
        end = proc.end_ns
        key = (last if end is None else end) - proc.start_ns
        if proc.children:
            longest = below.pop(proc, 0)
            if longest > key:
                key = longest
        if proc in roots:
            key = root
        keys[index] = key
        parent = proc.parent
        if parent is not None and below.get(parent, -1) < key:
            below[parent] = key
    return keys


def threshold_for(procs: List[Process], keys: List[int], cost: Callable[[Process], int],
                  budget: int) -> Optional[int]:
    """The largest key that must be hidden (with every smaller one) for the rest to cost
    at most `budget` characters; None when everything fits."""
    most = budget // MIN_COST + 1  # more than this many processes cannot fit
    if len(procs) > most:
        cutoff = nlargest(most, keys)[-1]
        order = [index for index, key in enumerate(keys) if key >= cutoff]
    else:
        order = list(range(len(procs)))
    order.sort(key=keys.__getitem__, reverse=True)
    total = start = 0
    while start < len(order):
        key = keys[order[start]]
        end = start
        while end < len(order) and keys[order[end]] == key:  # equal keys go together
            total += cost(procs[order[end]])
            end += 1
        if total > budget:
            return key
        start = end
    return None


def hide(recording: Recording, keys: List[int], threshold: int) -> int:
    """Leave out the processes whose key is below `threshold` (keys shrinks with them), as
    selection.hide_short_leaves(recording, threshold) would, in one pass; returns how many."""
    procs = recording.processes
    cut = min(threshold, root_key(recording))  # a root's key exceeds every duration, and no root is hidden
    kept = [proc for proc, key in zip(procs, keys) if key >= cut]
    hidden = len(procs) - len(kept)
    if hidden:
        shown = set(kept)
        for proc in kept:
            if proc.children:
                proc.children = [child for child in proc.children if child in shown]
        recording.processes = kept
        keys[:] = [key for key in keys if key >= cut]
    recording.hidden += hidden
    recording.hidden_below_ns = max(recording.hidden_below_ns, threshold)
    return hidden


def round_up(ns: int) -> int:
    """`ns` rounded up to two significant digits: 15234567 -> 16000000."""
    step = 10 ** max(len(str(ns)) - 2, 0)
    return -(-ns // step) * step


def shown_duration(ns: int) -> str:
    """16000000 -> '16 ms', 1300000000 -> '1.3 s', 130000 -> '0.13 ms'."""
    if ns >= 1_000_000_000:
        return ("%.9f" % (ns / 1e9)).rstrip("0").rstrip(".") + " s"
    return ("%.6f" % (ns / 1e6)).rstrip("0").rstrip(".") + " ms"


def fitted(recording: Recording, *, warn: Callable[[str], None], cost: Callable[[Process], int],
           chart_size: Callable[[Recording], int]) -> None:
    """Hide the shortest leaves of `recording` until its chart is at most MAX_TEXT_SIZE characters.

    `cost(proc)` estimates the characters a process adds to the chart (its
    bar and its execs, a root its section too); `chart_size` measures the
    whole chart, which settles it: the labels of the chart drawn may differ
    a little from the estimates (its time axis may be shorter).
    """
    keys = subtree_keys(recording)
    root = root_key(recording)
    largest = threshold_for(recording.processes, keys, cost, MAX_TEXT_SIZE - HEAD_ROOM)
    if largest is None:
        return
    total = len(recording.processes)
    hidden = 0
    while True:
        finite = [key for key in keys if key < root]
        if not finite:
            break  # only roots are left
        if largest is None:
            largest = min(finite)  # the chart came out larger than estimated: hide the next shortest too
        elif largest == root:
            largest = max(finite)  # the roots alone do not fit: hide everything else
        hidden += hide(recording, keys, round_up(int(largest) + 1))
        if chart_size(recording) <= MAX_TEXT_SIZE:
            break
        largest = None
    if hidden:
        warn(f"mermaid: hid {hidden} of {total} processes, those under "
             f"{shown_duration(recording.hidden_below_ns)} with nothing longer below them, to keep the chart "
             f"under Mermaid's limit of {MAX_TEXT_SIZE} characters (the title says so): --all draws every "
             f"process, --min-duration chooses the limit")
