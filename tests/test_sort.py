"""The bounded-window reordering stage, checked against a sorted() oracle."""

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.events import ParseError
from proctrace.reader import read_chunks
from proctrace.canonical import chunk_keys, run_keys
from proctrace.events import timestamp_of_line
from proctrace.pipeline import _keyed_lines
from proctrace.sort import SortStats, format_duration, parse_duration, sort_batches as _sort_batches


def sort_batches(batches, **options):
    return _sort_batches(batches, keys_of_run=run_keys, **options)


def keyed_line_batches(chunks, *, source):
    """The sort subcommand's batches of chunks of lines."""
    return _keyed_lines(((chunk, chunk_keys(chunk)) for chunk in chunks), source)

keys = st.lists(st.integers(0, 200), max_size=60)
windows = st.integers(0, 50)
batch_sizes = st.integers(1, 7)


def _batches(key_list, size):
    """(keys, items) batches; an item is (key, arrival index) so order can be checked."""
    items = [(key, index) for index, key in enumerate(key_list)]
    for start in range(0, len(items), size):
        chunk = items[start:start + size]
        yield [key for key, _ in chunk], chunk


def _run(key_list, window, size, stats=None):
    return [item for batch in sort_batches(_batches(key_list, size), window_ns=window, stats=stats)
            for item in batch]


@given(keys, windows, batch_sizes)
def test_output_is_a_permutation_of_the_input(key_list, window, size):
    out = _run(key_list, window, size)
    assert sorted(out) == sorted((key, index) for index, key in enumerate(key_list))


@st.composite
def bounded_disorder(draw):
    """Arrival-ordered keys that are never later than `window` behind the newest seen."""
    window = draw(windows)
    base = sorted(draw(keys))
    return [b + draw(st.integers(0, window)) for b in base], window


@given(bounded_disorder(), batch_sizes)
def test_sorted_when_nothing_is_later_than_the_window(case, size):
    key_list, window = case
    stats = SortStats()
    out = _run(key_list, window, size, stats)
    assert [key for key, _ in out] == sorted(key_list)
    assert stats.late == 0


@given(keys, windows, batch_sizes)
def test_equal_timestamps_keep_their_arrival_order(key_list, window, size):
    out = _run(key_list, window, size)
    for (key_a, index_a), (key_b, index_b) in zip(out, out[1:]):
        if key_a == key_b:
            assert index_a < index_b


@given(keys, batch_sizes)
def test_a_window_wider_than_the_span_equals_a_full_sort(key_list, size):
    oracle = sorted(((key, index) for index, key in enumerate(key_list)), key=lambda item: item[0])
    assert _run(key_list, 10**9, size) == oracle
    assert _run(key_list, None, size) == oracle


@given(keys, windows, batch_sizes)
# after a late 30 is written, a second 30 is late too: 31 was written before both
@example(key_list=[31, 33, 30, 34, 30], window=2, size=1)
def test_late_events_are_written_and_counted_and_the_suggested_window_suffices(key_list, window, size):
    stats = SortStats()
    out = _run(key_list, window, size, stats)
    out_keys = [key for key, _ in out]
    inversions = sum(1 for a, b in zip(out_keys, out_keys[1:]) if b < a)
    assert (stats.late == 0) == (inversions == 0)
    if stats.late:
        assert stats.late >= inversions
        retry = SortStats()
        assert [k for k, _ in _run(key_list, stats.needed_window_ns, size, retry)] == sorted(key_list)
        assert retry.late == 0


def test_an_item_older_than_any_written_is_late_even_after_a_late_one():
    stats = SortStats()
    out = _run([31, 33, 30, 34, 30], 2, 1, stats)
    assert [key for key, _ in out] == [31, 30, 30, 33, 34]
    assert (stats.late, stats.needed_window_ns) == (2, 4)


@settings(max_examples=200)
@given(keys, windows, batch_sizes)
def test_holds_no_more_than_the_window_plus_one_batch(key_list, window, size):
    pulled = []

    def source():
        for batch_keys, items in _batches(key_list, size):
            pulled.extend(batch_keys)
            yield batch_keys, items

    written = 0
    for batch in sort_batches(source(), window_ns=window):
        held_before = len(pulled) - written
        newest = max(pulled)
        inside_window = sum(1 for key in pulled if key > newest - window)
        # everything held is either inside the window or in the batch just read
        assert held_before - len(batch) <= inside_window + size or not batch
        assert len(pulled) - written - len(batch) <= inside_window + size
        written += len(batch)


def test_lines_pass_through_unchanged_and_bad_lines_are_named():
    text = (b'{"Exit":{"timestamp":30,"pid":2,"ppid":1,"pgid":2}}\n'
            b'\n'
            b'{"Fork":{"pid_first":1,"timestamp":10,"parent_pid":1,"child_pid":2,"parent_pgid":1}} \n'
            b'{"Exec":{"timestamp":20,"pid":2,"ppid":1,"pgid":2,"cmdline":["a\\u00e9"]}}')
    batches = keyed_line_batches(read_chunks(io.BytesIO(text)), source="x.jsonl")
    out = [line for batch in sort_batches(batches, window_ns=None) for line in batch]
    assert out == [text.split(b"\n")[i] for i in (2, 3, 0)]
    bad = text + b'\n{"Exit":{"timestamp":40,"pid":2'
    with pytest.raises(ParseError) as info:
        list(keyed_line_batches(read_chunks(io.BytesIO(bad)), source="x.jsonl"))
    assert str(info.value) == "x.jsonl:5: truncated or malformed JSON"


@pytest.mark.parametrize("text, ns", [("500ms", 500_000_000), ("2s", 2_000_000_000), ("1.5s", 1_500_000_000),
                                      ("250us", 250_000), ("7ns", 7), ("inf", None), ("0s", 0)])
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["5", "fast", "-1s", "nans", "infs"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_rounds_up():
    assert format_duration(1_000_000_001) == "2s"
    assert format_duration(2_500_000) == "3ms"
    assert format_duration(999) == "999ns"


@settings(max_examples=200)
@given(bounded_disorder(), st.integers(1, 400), st.booleans())
def test_lines_through_the_fast_path_come_out_sorted_and_whole(case, chunk_size, presorted):
    """Chunks that arrive sorted are held whole (Run) and split only when a later line reaches back."""
    key_list, window = case
    if presorted:
        key_list = sorted(key_list)
    text = b"".join(b'{"Lost":{"timestamp":%d,"count":%d}}\n' % (key, index) for index, key in enumerate(key_list))
    batches = keyed_line_batches(read_chunks(io.BytesIO(text), chunk_size=chunk_size), source="x")
    stats = SortStats()
    out = b"\n".join(b"\n".join(batch) for batch in sort_batches(batches, window_ns=window, stats=stats) if batch)
    expected = sorted(text.splitlines(), key=lambda line: int(line.split(b":")[2].split(b",")[0]))
    assert out.split(b"\n") == expected if key_list else out == b""
    assert stats.late == 0


def test_an_argument_that_looks_like_a_key_is_not_read_as_one():
    from proctrace.events import Exec, to_json
    line = to_json(Exec(3, 2, 1, 2, ('{"timestamp":1}}',))).encode() + b"\n"
    (keys, _), = keyed_line_batches([line], source="x")
    assert (keys[0], keys[-1]) == (3, 3)


def test_timestamp_of_line_accepts_any_field_order():
    assert timestamp_of_line(b'{"Exit":{"pid":2,"timestamp":11,"ppid":1,"pgid":2}}') == 11
    with pytest.raises(ValueError):
        timestamp_of_line(b'{"Exit":{"pid":2}}')


def test_a_chunk_whose_keys_change_width_comes_out_sorted():
    """Keys of one width compare as bytes; a chunk that mixes widths must not."""
    text = b"".join(b'{"Lost":{"timestamp":%d,"count":1}}\n' % key for key in (98, 99, 100, 7, 1000, 101))
    batches = keyed_line_batches(read_chunks(io.BytesIO(text)), source="x")
    out = b"\n".join(line for batch in sort_batches(batches, window_ns=None) for line in batch)
    assert [int(line.split(b":")[2].split(b",")[0]) for line in out.split(b"\n")] == [7, 98, 99, 100, 101, 1000]


@settings(max_examples=300)
@given(st.lists(st.integers(0, 2000), max_size=120), st.integers(1, 300), st.none() | st.integers(0, 300))
def test_chunks_sorted_where_read_merge_into_one_order(key_list, chunk_size, window):
    """Any disorder, any chunk size: held Runs are split only where a chunk overlaps them."""
    text = b"".join(b'{"Lost":{"timestamp":%d,"count":%d}}\n' % (key, index) for index, key in enumerate(key_list))
    batches = keyed_line_batches(read_chunks(io.BytesIO(text), chunk_size=chunk_size), source="x")
    stats = SortStats()
    out = b"\n".join(b"\n".join(batch) for batch in sort_batches(batches, window_ns=window, stats=stats) if batch)
    lines = out.split(b"\n") if out else []
    assert sorted(lines) == sorted(text.splitlines())
    in_order = sorted(text.splitlines(), key=lambda line: int(line.split(b":")[2].split(b",")[0]))  # stable
    if window is None or stats.late == 0:
        assert lines == in_order


def test_a_line_cut_short_inside_a_chunk_is_named():
    """A recording killed mid-write and then appended to has a cut line in
    the middle: the fast path must not pass it on as an event."""
    line = b'{"Exit":{"timestamp":%d,"pid":2,"ppid":1,"pgid":2}}\n'
    text = line % 10 + line[:30] % 20 + b"\n" + line % 30
    with pytest.raises(ParseError) as info:
        list(keyed_line_batches(read_chunks(io.BytesIO(text)), source="x.jsonl"))
    assert str(info.value) == "x.jsonl:2: truncated or malformed JSON"
