"""render -f html: one page that loads nothing, shows argv only as text, and carries the data compactly."""

import json
import re
from html.parser import HTMLParser
from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import given, settings

from proctrace.analysis import critical_path, own_times, peak_concurrency, weighted_times
from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, to_json
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.pipeline import read_model
from proctrace.render.html import render
from proctrace.render.timeline import tree_order
from proctrace.sort import SortStats
from strategies import histories

RECORDINGS = Path(__file__).parent / "data" / "recordings"
HOSTILE = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "a\"b'c`d", "<!--", "]]>",
           "line\u2028sep\u2029para", "caf\udce9 \udcff", "&amp; &lt;", "</SCRIPT >", "<\\/script>"]
# attributes that load something, and the script calls that would fetch or open anything
LOADING_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "ping",
                      "xlink:href", "manifest", "codebase", "cite", "longdesc"}
FETCHING = re.compile(r"\b(?:fetch|XMLHttpRequest|WebSocket|EventSource|importScripts|sendBeacon|Worker|"
                      r"import\s*\(|window\.open|location\s*=|\.src\s*=|\.href\s*=|innerHTML|outerHTML|"
                      r"insertAdjacentHTML|document\.write|eval|Function\s*\()")


class Page(HTMLParser):
    """Every tag, attribute and script of a page, as a browser's tokenizer would see them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.scripts, self.styles, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = (tag, dict(attrs), [])

    def handle_endtag(self, tag):
        if self._in and tag == self._in[0]:
            kind, attrs, text = self._in
            (self.scripts if kind == "script" else self.styles).append((attrs, "".join(text)))
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._in[2].append(data)


def _page(recording) -> bytes:
    return b"".join(render(recording, warn=pytest.fail))


def _parsed(data: bytes) -> Page:
    page = Page()
    page.feed(data.decode("utf-8"))  # valid UTF-8, whatever argv holds
    page.close()
    return page


def _data(page: Page) -> dict:
    (attrs, text), = [(a, t) for a, t in page.scripts if a.get("type") == "application/json"]
    assert attrs["id"] == "proctrace-data"
    return json.loads(text)


def _hostile_recording():
    events = [Fork(0, 1, 2, 1), Exec(10, 2, 1, 2, ("sh", "-c", "x"), "/bin/sh")]
    for i, arg in enumerate(HOSTILE):
        pid = 10 + i
        events += [Fork(100 + 10 * i, 2, pid, 2), Exec(101 + 10 * i, pid, 2, 2, ("echo", arg), "/bin/" + arg),
                   Exit(105 + 10 * i, pid, 2, 2, None, i % 3, None)]
    events.append(Exit(1000, 2, 1, 2, None, 0, None))
    return fold([items_of_events(events)])


def _model(path):
    with open(path, "rb") as stream:
        return read_model(stream, source=str(path), window_ns=None, stats=SortStats(), warn=lambda m: None)


@pytest.mark.parametrize("recording", [_hostile_recording, lambda: _model(RECORDINGS / "timeline_hostile_argv.jsonl"),
                                       lambda: _model(RECORDINGS / "timeline_make_j.jsonl")],
                         ids=["made-up", "recorded-hostile", "recorded-make"])
def test_the_page_refers_to_nothing_outside_itself(recording):
    page = _parsed(_page(recording()))
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed", "base", "meta") or \
            (tag == "meta" and set(attrs) <= {"charset", "name", "content"}), tag
        assert not LOADING_ATTRIBUTES & set(attrs), (tag, attrs)
    assert [tag for tag, _ in page.tags].count("script") == 2  # the data and the code: nothing injected
    code, = [text for attrs, text in page.scripts if "type" not in attrs]
    assert not FETCHING.search(code), FETCHING.search(code)
    for _, style in page.styles:
        assert "url(" not in style and "@import" not in style


@pytest.mark.parametrize("recording", [_hostile_recording, lambda: _model(RECORDINGS / "timeline_hostile_argv.jsonl")],
                         ids=["made-up", "recorded"])
def test_argv_is_data_never_markup(recording):
    recording = recording()
    raw = _page(recording)
    page = _parsed(raw)
    (_, text), = [(a, t) for a, t in page.scripts if a.get("type") == "application/json"]
    for unsafe in ("<", ">", "&", "\u2028", "\u2029"):
        assert unsafe not in text
    data = _data(page)
    argvs = {tuple(argv) for argv in data["argv"]}
    for proc in recording.processes:
        for step in proc.execs:
            assert step.cmdline in argvs  # exactly, lone surrogates (bytes that are not UTF-8) too
    assert all(tag in ("html", "head", "meta", "title", "style", "body", "noscript", "script") for tag, _ in page.tags)


def _decoded(data):
    """What page/data.js makes of the columns, redone here."""
    n = data["n"]
    parent = [i - d if d else -1 for i, d in enumerate(data["parent"])]
    start = list(accumulate(data["start"]))
    end = [s + d if d >= 0 else data["span"] for s, d in zip(start, data["dur"])]
    pid = list(accumulate(data["pid"]))
    pgid, sid = [0] * n, [0] * n
    for i in range(n):
        pgid[i] = data["pgid"][i] + (pgid[parent[i]] if parent[i] >= 0 else 0)
        sid[i] = data["sid"][i] + (sid[parent[i]] if parent[i] >= 0 else 0)
    first = [0] + list(accumulate(data["nexec"]))
    argv_of = list(accumulate(data["exec_argv"]))
    execs = [[(start[i] + data["exec_at"][k], data["argv"][argv_of[k]],
               data["files"][data["exec_file"][k]] if data["exec_file"][k] >= 0 else None)
              for k in range(first[i], first[i + 1])] for i in range(n)]
    return parent, start, end, pid, pgid, sid, execs


@pytest.mark.parametrize("name", ["timeline_make_j", "timeline_hostile_argv", "tricky", "original_later_format"])
def test_the_columns_decode_to_the_recording(name):
    recording = _model(RECORDINGS / f"{name}.jsonl")
    data = _data(_parsed(_page(recording)))
    order, parents = tree_order(recording)
    first = recording.first_ns
    parent, start, end, pid, pgid, sid, execs = _decoded(data)
    assert parent == list(parents)
    assert start == [proc.start_ns - first for proc in order]
    assert end == [(proc.end_ns if proc.end_ns is not None else recording.last_ns) - first for proc in order]
    assert pid == [proc.pid for proc in order]
    assert [p for p, proc in zip(pgid, order) if proc.end_ns is not None] == \
        [proc.exit_pgid for proc in order if proc.end_ns is not None]
    assert [s for s, proc in zip(sid, order) if proc.exit_sid is not None] == \
        [proc.exit_sid for proc in order if proc.exit_sid is not None]
    assert execs == [[(step.timestamp - first, list(step.cmdline), step.filename) for step in proc.execs]
                     for proc in order]
    status = [(-proc.signal if proc.signal else proc.exit_code or 0) if proc.end_ns is not None else None
              for proc in order]
    assert data["status"] == status
    own = own_times(recording)
    assert data["own"] == [own[proc] for proc in order]
    weighted = weighted_times(recording)
    assert data["weighted"] == [round(weighted[proc]) for proc in order]
    assert data["peak"] == [peak_concurrency(recording)[0], peak_concurrency(recording)[1] - first]
    segments = critical_path(recording, recording.roots[0], slack_ns=0)
    assert [order[i] for i in data["critical"]["proc"]] == [segment.proc for segment in segments]
    assert list(accumulate(data["critical"]["start"])) == [segment.start_ns - first for segment in segments]


def _build(processes: int):
    """A made-up parallel build: a make forking `processes` compiler jobs, 8 at a time."""
    events, ts = [Fork(0, 1, 100, 1), Exec(1000, 100, 1, 100, ("make", "-j8"), "/usr/bin/make")], 2000
    for i in range(processes):
        pid = 1000 + i
        start = ts + 123_457 * i
        events += [Fork(start, 100, pid, 100),
                   Exec(start + 91_234, pid, 100, 100, ("cc", "-O2", "-c", "-o", f"build/f{i:05d}.o", f"src/f{i:05d}.c"),
                        "/usr/bin/cc"),
                   Exit(start + 987_654 + 31 * i, pid, 100, 100, None, 0, None)]
    events.sort(key=lambda event: event.timestamp)
    events.append(Exit(events[-1].timestamp + 5000, 100, 1, 100, None, 0, None))
    return fold([items_of_events(events)])


def test_a_process_costs_at_most_200_bytes_plus_its_argv():
    recording = _build(5000)
    page = _page(recording)
    empty = _page(fold([items_of_events([Fork(0, 1, 100, 1), Exit(5, 100, 1, 100, None, 0, None)])]))
    argv_text = sum(len(json.dumps(list(step.cmdline), ensure_ascii=False).encode()) + 1
                    for proc in recording.processes for step in proc.execs)
    per_process = (len(page) - len(empty) - argv_text) / len(recording.processes)
    assert per_process <= 200, per_process


def test_the_page_is_the_same_every_time():
    recording = _build(50)
    assert _page(recording) == _page(recording)


def test_pid_and_min_duration_apply(tmp_path, capsys, selection_recording):
    path = selection_recording
    out = tmp_path / "t.html"
    assert main(["render", "-f", "html", "-i", str(path), "-o", str(out), "--pid", "4"]) == 0
    data = _data(_parsed(out.read_bytes()))
    assert list(accumulate(data["pid"])) == [4, 5]
    assert main(["render", "-f", "html", "-i", str(path), "-o", str(out), "--min-duration", "1ms"]) == 0
    data = _data(_parsed(out.read_bytes()))
    assert list(accumulate(data["pid"])) == [2, 4, 5] and (data["hidden"], data["hidden_below"]) == (1, 1_000_000)


BIG = 10**25  # a group or session id beyond 64 bits: the page's arrays of ids raised OverflowError


@pytest.mark.parametrize("events", [
    [Fork(0, 1, 2, 1), Exit(5, 2, 1, BIG, 3, 0, None)],
    [Fork(0, 1, 2, 1), Exec(1, 2, 1, BIG, ("a",), None, BIG), Exit(5, 2, 1, 1)],
    [Fork(0, 1, 2, BIG), Fork(5, 1, 3, 1)],  # no exit: the group at the fork
], ids=["exit", "exec", "fork"])
def test_an_id_beyond_64_bits_is_one_error_line(tmp_path, capsys, events):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(to_json(event) + "\n" for event in events))
    assert main(["render", "-f", "html", "-i", str(path), "-o", str(tmp_path / "t.html")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == \
        "proctrace: error: html: a process group or session id in the recording does not fit in 64 bits"


def test_the_code_holds_no_end_of_script():
    code, = [text for attrs, text in _parsed(_page(_build(2))).scripts if "type" not in attrs]
    assert "</" not in code  # the page's own code cannot end its element early either


@settings(max_examples=150, deadline=None)
@given(histories())
def test_any_history_makes_a_page_whose_columns_decode(events):
    if not events:
        return
    recording = fold([items_of_events(events)])
    data = _data(_parsed(_page(recording)))
    order, parents = tree_order(recording)
    parent, start, end, pid, _, _, execs = _decoded(data)
    assert (parent, pid) == (list(parents), [proc.pid for proc in order])
    assert execs == [[(step.timestamp - recording.first_ns, list(step.cmdline), step.filename) for step in proc.execs]
                     for proc in order]
    assert all(a <= b for a, b in zip(start, end))
