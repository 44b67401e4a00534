"""The helper process that prepares chunks of a large file: same results as without it."""

import io
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctrace import parallel
from proctrace.parallel import prepared_chunks
from proctrace.reader import read_chunks

lines = st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=80)


def _inline(data, chunk_size, prepare):
    return [(chunk, prepare(chunk)) for chunk in read_chunks(io.BytesIO(data), chunk_size=chunk_size)]


def _checksum(chunk):
    return (len(chunk), chunk.count(b"\n"), os.getpid())


@settings(max_examples=40, deadline=None)
@given(lines, st.booleans(), st.integers(1, 64), st.sampled_from([(1, 2), (2, 3), (1, 1)]))
def test_chunks_and_results_match_reading_without_a_helper(tmp_path_factory, body, final_newline, chunk_size, share):
    data = b"\n".join(body) + (b"\n" if final_newline and body else b"")
    path = tmp_path_factory.mktemp("p") / "rec.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as stream:
        got = list(prepared_chunks(stream, len, share=share, min_size=0, chunk_size=chunk_size))
    assert got == _inline(data, chunk_size, len)


def test_the_helper_does_its_share(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "_usable_cpus", lambda: 2)  # (a builder with one CPU forks it all the same)
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    with open(path, "rb") as stream:
        pids = [result[2] for _, result in prepared_chunks(stream, _checksum, share=(2, 3), min_size=0,
                                                            chunk_size=64)]
    mine = [pid == os.getpid() for pid in pids]
    assert mine.count(False) > 0 and mine.count(True) > 0
    assert all(mine[i] == (i % 3 == 2) for i in range(len(mine)))


def test_a_failing_helper_leaves_the_work_to_the_main_process(tmp_path):
    parent = os.getpid()

    def prepare(chunk):
        if os.getpid() != parent:
            raise RuntimeError("the helper breaks")
        return len(chunk)

    data = b"".join(b"line %d\n" % i for i in range(200))
    path = tmp_path / "rec.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as stream:
        got = list(prepared_chunks(stream, prepare, share=(1, 1), min_size=0, chunk_size=100))
    assert got == _inline(data, 100, len)


def test_stopping_early_ends_the_helper(tmp_path):
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    with open(path, "rb") as stream:
        chunks = prepared_chunks(stream, len, min_size=0, chunk_size=64)
        next(chunks)
        chunks.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left, not even a zombie


def test_a_pipe_is_read_without_a_helper():
    reader, writer = os.pipe()
    os.write(writer, b"a\nbb\n")
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        assert list(prepared_chunks(stream, _checksum, min_size=0)) == [(b"a\nbb\n", (5, 2, os.getpid()))]


def _big_recording(events):
    return b"".join(b'{"Exit":{"timestamp":%d,"pid":%d,"ppid":1,"pgid":1,"exit_code":0,"signal":null}}\n'
                    % (10_000_000 + i * 7 % 1000 + i, 100 + i) for i in range(events))


@pytest.mark.parametrize("command", [["sort"], ["render"], ["render", "-f", "by-process"]])
def test_a_large_file_gives_the_same_output_and_the_same_line_numbers(tmp_path, command):
    """Above 8 MiB a helper takes part; what the commands write must not change."""
    data = _big_recording(120_000)
    assert len(data) > 8 << 20
    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    run = [sys.executable, "-m", "proctrace", *command, "-i"]
    from_file = subprocess.run(run + [str(path)], capture_output=True, check=True).stdout
    from_pipe = subprocess.run(run + ["-"], input=data, capture_output=True, check=True).stdout
    assert from_file == from_pipe and from_file.count(b"\n") >= 120_000
    # a bad line deep in the file is named by its number, as without a helper
    lines = data.split(b"\n")
    lines[100_000] = b'{"Exit":{"timestamp":5,"pid":'
    path.write_bytes(b"\n".join(lines))
    failed = subprocess.run(run + [str(path)], capture_output=True)
    assert failed.returncode == 1
    assert failed.stderr.decode().strip() == f"proctrace: error: {path}:100001: truncated or malformed JSON"


def test_one_usable_cpu_gets_no_helper(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "_usable_cpus", lambda: 1)
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    with open(path, "rb") as stream:
        pids = {result[2] for _, result in prepared_chunks(stream, _checksum, share=(2, 3), min_size=0,
                                                           chunk_size=64)}
    assert pids == {os.getpid()}
