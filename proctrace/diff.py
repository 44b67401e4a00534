"""Two recordings of the same job -> what changed between them, process by process.

Pids differ from run to run, so processes are matched by what they ran: a
process's key is the path of normalised commands from its root down to it,
as in folded stacks, and its place among its siblings with that key (in
start order) tells it from them.  Normalising first makes the commands of
two runs comparable: the program's name instead of its path, and a
placeholder for what is new on every run (temporary names, long hex
strings and hashes, UUIDs, the pids of the recording).  `key="argv"`
matches on the normalised command alone, for when the wrappers changed.

A process's time is its own time: the part of its life, fork to exit, when
none of its children was alive (analysis.own_times), as a folded stack
counts a stack's own samples.  Lifetimes would make every ancestor carry
its descendants' change: `make` would tie with the step that slowed it
down, and noise would decide which came first.  A process with no exit in
its recording counts until the recording's last event.  A key's time is the
sum over its processes.

    compare(a, b).changes[0] -> Change(key=(("make", "-j2"), ("cc", "-c", "slow.c")),
                                       count=(1, 1), time_ns=(80_000_000, 1_090_000_000))
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from proctrace.analysis import critical_path, end_of, own_times
from proctrace.diff_report import command_text

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import AbstractSet, Callable, Dict, List, Optional, Tuple

    from proctrace.model import Process, Recording

    Command = Tuple[str, ...]
    Key = Tuple[Command, ...]

__all__ = ["Change", "PathStep", "Comparison", "compare", "normalise_command", "KEY_MODES",
           "DEFAULT_MIN_DELTA_NS", "DEFAULT_MIN_PERCENT"]

KEY_MODES = ("path", "argv")
DEFAULT_MIN_DELTA_NS = 1_000_000
DEFAULT_MIN_PERCENT = 5.0

# What differs from one run of a job to the next, in the order tried at a place in an argument:
#   0f8fa3a4-8c4f-4c1e-9f0b-5d4c2a1b3e6f                     -> <uuid>
#   -frandom-seed=5d41402abc4b2a76b9719d911017c592           -> -frandom-seed=<hex> (16+ hex digits)
#   /nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-bash-5.2     -> /nix/store/<hash>-bash-5.2
#   /tmp/ccAb12Cd.s /tmp/tmp.Xy12ab34cd /tmp/tmpk3j2_a9z    -> /tmp/<tmp>.s /tmp/<tmp> /tmp/<tmp>
#   /proc/4242/status, and any number that is a pid of the recording -> /proc/<pid>/status
VOLATILE = re.compile(r"""
    (?<![0-9A-Za-z]) (?:   # (one check of the left edge, then the kinds: twice as fast as one check each)
        (?P<uuid> [0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12} (?![0-9A-Za-z]) )
      | (?P<hex> [0-9A-Fa-f]{16,} (?![0-9A-Za-z]) )
      | (?P<hash> [0-9abcdfghijklmnpqrsvwxyz]{32} (?![0-9A-Za-z]) )
      | (?<![^/]) (?P<gcc> cc[A-Za-z0-9]{6} ) (?=\.)
      | (?<![^/]) (?P<tmp> tmp\.[A-Za-z0-9]{6,} | tmp[a-z0-9_]{8} ) (?![0-9A-Za-z_])
      | (?<=/proc/) (?P<proc> [0-9]+ ) (?![0-9A-Za-z])
      | (?P<number> [1-9][0-9]{0,9} ) (?![0-9A-Za-z])
    )
""", re.X)
# gcc's temporary names are cc + six random letters and digits: outside a
# directory named tmp, ask for a capital or a digit among them, which one
# gcc name in 200 lacks, and a real name (ccompile.c) seldom has
TMP_DIR = re.compile(r"(?:^|/)(?:tmp|temp|TMP|TEMP)/$")
RANDOM = re.compile(r"[A-Z0-9]")
# a build repeats most arguments (-c, -O2, its include paths): each is normalised once, up to this many
MEMO_LIMIT = 100_000


def normalise_command(cmdline: Command, pids: AbstractSet[int]) -> Command:
    """An argv as a key: its program's name, and placeholders for what each run makes new."""
    return _normaliser(pids)(cmdline)


def _normaliser(pids: AbstractSet[int]) -> Callable[[Command], Command]:
    """normalise_command for one recording's pids, remembering the arguments it has seen."""
    memo: Dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        kind = match.lastgroup
        if kind == "number":
            return "<pid>" if int(match.group()) in pids else match.group()
        if kind == "gcc":
            if not (RANDOM.search(match.group(), 2) or TMP_DIR.search(match.string, 0, match.start())):
                return match.group()
            return "<tmp>"
        return "<pid>" if kind == "proc" else "<%s>" % kind

    def normalise(cmdline: Command) -> Command:
        if not cmdline:
            return ()
        words = []
        for index, arg in enumerate(cmdline):
            if not index:
                arg = arg.rsplit("/", 1)[-1] or arg
            word = memo.get(arg)
            if word is None:
                word = VOLATILE.sub(placeholder, arg)
                if len(memo) < MEMO_LIMIT:
                    memo[arg] = word
            words.append(word)
        return tuple(words)
    return normalise


class Change:
    """One key's processes in both runs: how many, and their summed own times."""

    __slots__ = ("key", "count", "time_ns")

    def __init__(self, key: Key, count: Tuple[int, int], time_ns: Tuple[int, int]):
        self.key = key
        self.count = count
        self.time_ns = time_ns

    @property
    def delta_ns(self) -> int:
        return self.time_ns[1] - self.time_ns[0]

    def __repr__(self) -> str:
        return f"Change(key={self.key!r}, count={self.count}, time_ns={self.time_ns})"


class PathStep:
    """A process on the critical path of one run or both: its time on each (None: not on it)."""

    __slots__ = ("key", "occurrence", "time_ns", "ran")

    def __init__(self, key: Key, occurrence: Tuple[int, ...], time_ns: Tuple[Optional[int], Optional[int]],
                 ran: Tuple[bool, bool]):
        self.key = key
        self.occurrence = occurrence  # its place among its siblings with its key, at each level
        self.time_ns = time_ns
        self.ran = ran                # whether each run had this process at all, on its path or not

    def __repr__(self) -> str:
        return f"PathStep(key={self.key!r}, occurrence={self.occurrence}, time_ns={self.time_ns})"


class Comparison:
    """What compare() found; every pair is (A's, B's).

    `changes` are the keys whose count or time differs, but for those
    within the noise gate (`hidden` says how many), by |delta| descending;
    `only_a` and `only_b` are every key of one run only, by time
    descending; `critical_path` aligns the two runs' paths by key.
    """

    __slots__ = ("key_mode", "roots", "wall_ns", "critical_path_ns", "processes", "failures",
                 "min_delta_ns", "min_percent", "changes", "hidden", "only_a", "only_b",
                 "critical_path", "critical_path_hidden")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    @property
    def same_job(self) -> bool:
        return self.roots[0] == self.roots[1]


class _Trie:
    """Paths as small ints, shared by both runs so that equal paths get equal ids.

    A key held as a tuple per process would copy its parent's: deep fork
    chains would take quadratic memory.
    """

    __slots__ = ("ids", "entries", "runs")

    def __init__(self):
        self.ids: Dict[tuple, int] = {}
        self.entries: List[tuple] = []  # id -> (parent id, item)
        self.runs = bytearray()         # id -> which runs had it: bit 0 for A, bit 1 for B

    def child(self, parent: int, item, run: int = 0) -> int:
        entry = (parent, item)
        found = self.ids.get(entry)
        if found is None:
            found = self.ids[entry] = len(self.entries)
            self.entries.append(entry)
            self.runs.append(0)
        self.runs[found] |= run
        return found

    def path(self, node: int) -> tuple:
        items = []
        while node >= 0:
            node, item = self.entries[node]
            items.append(item)
        return tuple(reversed(items))


_TOP = -1  # the parent id of a path's first element


class _Run:
    """One recording indexed by key: per key its count and time, per process its identity.

    A key id stands for the path of commands down to a process; an identity
    id for the path of (key id, occurrence among its siblings with that key).
    """

    def __init__(self, recording: Recording, mode: str, keys: _Trie, identities: _Trie, run: int):
        self.recording = recording
        self.totals: Dict[int, List[int]] = {}   # key id -> [count, time]
        self.identity: Dict[Process, int] = {}   # process -> identity id
        normalise = _normaliser(frozenset(proc.pid for proc in recording.processes))
        own = own_times(recording)

        def command(proc: Process):
            step = proc.command_step()
            return normalise(step.cmdline) if step is not None else ()

        def add(proc: Process, key: int, occurrences: Dict[int, int], parent: int) -> int:
            occurrence = occurrences.get(key, 0)
            occurrences[key] = occurrence + 1
            ident = self.identity[proc] = identities.child(parent, (key, occurrence), run)
            total = self.totals.get(key)
            if total is None:
                total = self.totals[key] = [0, 0]
            total[0] += 1
            total[1] += own[proc]
            return ident

        if mode == "argv":
            everywhere: Dict[int, int] = {}
            for proc in recording.processes:  # in order of first appearance, which is of start
                add(proc, keys.child(_TOP, command(proc)), everywhere, _TOP)
        else:
            # siblings by parent, in start order; a loop, not recursion: fork chains can be deep
            families: List[tuple] = [(recording.roots, _TOP, _TOP)]
            while families:
                children, parent_key, parent = families.pop()
                occurrences: Dict[int, int] = {}
                for child in children:
                    key = keys.child(parent_key, command(child))
                    ident = add(child, key, occurrences, parent)
                    if child.children:
                        families.append((child.children, key, ident))
        self.root = recording.processes[0] if recording.processes else None
        self.command: Command = ()
        if self.root is not None:
            self.command = keys.entries[identities.entries[self.identity[self.root]][1][0]][1]

    def path_times(self) -> Dict[int, int]:
        """Each identity on the critical path -> its time on it, in the order first reached."""
        times: Dict[int, int] = {}
        if self.root is None:
            return times
        for segment in critical_path(self.recording, self.root):
            ident = self.identity[segment.proc]
            times[ident] = times.get(ident, 0) + segment.duration_ns
        return times

    def facts(self) -> Tuple[int, int, int, int]:
        """Wall time, critical path, processes, failures."""
        recording, root = self.recording, self.root
        path = end_of(root, recording) - root.start_ns if root is not None else 0
        return (recording.last_ns - recording.first_ns, path, len(recording.processes),
                sum(proc.failed for proc in recording.processes))


def compare(a: Recording, b: Recording, *, key: str = "path", min_delta_ns: int = DEFAULT_MIN_DELTA_NS,
            min_percent: float = DEFAULT_MIN_PERCENT,
            warn: Callable[[str], None] = lambda message: None) -> Comparison:
    """Two runs of a job (A before B) -> what changed, key by key, and on the critical path."""
    if key not in KEY_MODES:
        raise ValueError(f"unknown key mode {key!r}")
    keys, identities = _Trie(), _Trie()
    run_a, run_b = _Run(a, key, keys, identities, 1), _Run(b, key, keys, identities, 2)
    if run_a.command != run_b.command:
        warn(f"the recordings look like different jobs: A ran {_plain(run_a.command)}, "
             f"B ran {_plain(run_b.command)}")

    def hidden(time_a: int, time_b: int) -> bool:
        """Within the noise gate: |delta| below both thresholds (a key new in B never is)."""
        delta = abs(time_b - time_a)
        return delta < min_delta_ns and time_a > 0 and delta * 100 < min_percent * time_a

    changes, only_a, only_b, quiet = [], [], [], 0
    for node in sorted(run_a.totals.keys() | run_b.totals.keys()):
        count_a, time_a = run_a.totals.get(node, (0, 0))
        count_b, time_b = run_b.totals.get(node, (0, 0))
        if count_a == count_b and time_a == time_b:
            continue
        change = Change(keys.path(node), (count_a, count_b), (time_a, time_b))
        if not count_b:
            only_a.append(change)
        elif not count_a:
            only_b.append(change)
        if hidden(time_a, time_b):
            quiet += 1
        else:
            changes.append(change)
    changes.sort(key=lambda change: (-abs(change.delta_ns), change.key))
    only_a.sort(key=lambda change: (-change.time_ns[0], change.key))
    only_b.sort(key=lambda change: (-change.time_ns[1], change.key))

    path_a, path_b = run_a.path_times(), run_b.path_times()
    steps, path_quiet = [], 0
    for ident in _aligned(list(path_a), list(path_b)):
        time_a, time_b = path_a.get(ident), path_b.get(ident)
        if time_a is not None and time_b is not None and hidden(time_a, time_b):
            path_quiet += 1
            continue
        items = identities.path(ident)
        runs = identities.runs[ident]
        steps.append(PathStep(keys.path(items[-1][0]), tuple(occurrence for _, occurrence in items),
                              (time_a, time_b), (bool(runs & 1), bool(runs & 2))))
    facts = list(zip(run_a.facts(), run_b.facts()))
    return Comparison(key_mode=key, roots=(run_a.command, run_b.command), wall_ns=facts[0],
                      critical_path_ns=facts[1], processes=facts[2], failures=facts[3],
                      min_delta_ns=min_delta_ns, min_percent=min_percent, changes=changes, hidden=quiet,
                      only_a=only_a, only_b=only_b, critical_path=steps, critical_path_hidden=path_quiet)


def _aligned(a: List[int], b: List[int]) -> List[int]:
    """Two paths (identities in order) -> one sequence holding each identity once, in both orders.

    A step on both paths stays where the longest common run of steps puts
    it; one on both but out of order keeps its first place.
    """
    merged: List[int] = []
    for tag, a_start, a_end, b_start, b_end in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        merged.extend(a[a_start:a_end])
        if tag != "equal":
            merged.extend(b[b_start:b_end])
    return list(dict.fromkeys(merged))


def _plain(command: Command) -> str:
    """A command for a warning: its words, with unprintable characters escaped (see diff_report)."""
    return command_text(command) if command else "nothing"
