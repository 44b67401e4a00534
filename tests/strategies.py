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
