"""Hypothesis strategies shared by the test modules."""

from hypothesis import strategies as st

from proctrace.events import Exec, Exit, Fork, Lost, SetPGID, SetSID

ints = st.integers(min_value=0, max_value=2**63 - 1)
pids = st.integers(min_value=1, max_value=4_194_304)
# argv: any text, including the lone surrogates that stand for non-UTF-8 bytes
arg_text = st.text(alphabet=st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)), max_size=40)
cmdlines = st.lists(arg_text, max_size=8).map(tuple)
maybe = lambda strategy: st.none() | strategy  # noqa: E731


@st.composite
def exits(draw):
    killed = draw(st.booleans())
    status = draw(maybe(st.integers(0, 255)))
    signal = draw(st.integers(1, 64)) if killed else None
    return Exit(draw(ints), draw(pids), draw(pids), draw(pids), draw(maybe(pids)),
                None if killed else status, signal)


events = st.one_of(
    st.builds(Fork, ints, pids, pids, pids),
    st.builds(Exec, ints, pids, pids, pids, cmdlines, maybe(arg_text), maybe(pids), st.booleans()),
    exits(),
    st.builds(SetSID, ints, pids, pids, pids, pids),
    st.builds(SetPGID, ints, pids, pids, pids),
    st.builds(Lost, ints, st.integers(1, 10**6)),
)


# Command lines for the renderers: words a build runs (some that Mermaid must
# escape, a store path, one too long for a label), and the characters that
# quoting and decoding have to get right, from an explicit alphabet: the
# default one makes hypothesis build a Unicode table first, which is slow.
_words = st.sampled_from(["cc", "-c", "x.c", "section", "Click", "2024-01-02", "a:b", "#1;", "%d", "[x]", "a,b]",
                          "/nix/store/zzmqcgd2vrql9656a2fkwk948r38mgai-coreutils-9.3/bin/dirname", "y" * 120])
argvs = st.lists(st.one_of(_words, st.text(alphabet='ab ",]\\\n\'\x7f\u00e9\udcff', max_size=6)),
                 max_size=4).map(tuple)


@st.composite
def histories(draw):
    """Timestamp-ordered events of processes whose pids (from a small set) get reused."""
    events, live, ts = [], {1}, 0
    for _ in range(draw(st.integers(0, 40))):
        ts += draw(st.integers(0, 3))
        action = draw(st.sampled_from(["fork", "exec", "exit", "setsid", "setpgid", "lost", "stray"]))
        pid = draw(st.sampled_from(sorted(live))) if live else 1
        if action == "fork":
            child = draw(st.integers(1, 6))
            events.append(Fork(ts, pid, child, pid))
            live.add(child)
        elif action == "exec":
            truncated = draw(st.sampled_from([False, False, False, True]))
            events.append(Exec(ts, pid, 1, pid, draw(argvs), draw(st.none() | st.just("/bin/x")),
                               draw(st.none() | st.integers(1, 9)), truncated))
        elif action == "exit":
            code = draw(st.none() | st.integers(0, 3))
            signal = draw(st.integers(1, 15)) if code is None and draw(st.booleans()) else None
            events.append(Exit(ts, pid, 1, pid, draw(st.none() | st.integers(1, 9)), code, signal))
            live.discard(pid)
        elif action == "setsid":
            events.append(SetSID(ts, pid, 1, pid, pid))
        elif action == "setpgid":
            events.append(SetPGID(ts, pid, 1, pid))
        elif action == "lost":
            events.append(Lost(ts, draw(st.integers(1, 5))))
        else:  # an event for a pid never forked in the recording
            events.append(Exec(ts, draw(st.integers(7, 9)), 1, 1, ("stray",)))
    return events
