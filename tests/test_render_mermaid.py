"""The Mermaid chart: labels that Mermaid cannot misread (issue 10), that fit their bars, and a
chart that stays under Mermaid's size limit (issue 16).

The shapes below are written out here, apart from the module's own sets,
so that they say what a chart may hold: a task line is a label made of
entities and safe characters, its first one an entity or punctuation, then
the task's data; nothing else in a chart but its fixed head and sections.
"""

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.selection import hide_short_leaves
from proctrace.render import RenderOptions
from proctrace.render.mermaid import Scale, render
from proctrace.render.mermaid_fit import MAX_TEXT_SIZE, hide, round_up, shown_duration, subtree_keys
from proctrace.render.mermaid_labels import command_text, escape_label, fit, fit_label, measured_width, readable, \
    text_width
from strategies import histories

SAFE = r"A-Za-z0-9 !$&'()*+,\-./=?@\[\\\]^_`{|}~"
FIRST = r"!$&'()*+,\-./=?@\[\\\]^_`{|}~"
LABEL = rf"(?:#\d+;|[{FIRST}])(?:#\d+;|[{SAFE}])*"
TASK_LINE = re.compile(rf"    ({LABEL}) :(?:active|crit|done), \d+, \d+ms")
TEXT_LINE = re.compile(rf"    (?:title|section) (?:#\d+;|[{SAFE}])+")
HEAD = {'%%{init: {"gantt": {"useWidth": 1200}}}%%', "gantt", "    dateFormat x", "    axisFormat %S.%L",
        "    axisFormat %H:%M:%S", "    todayMarker off", ""}
# what JavaScript's \s matches: Mermaid's lexer skips all of it before a statement
JS_BLANKS = "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200b))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
STATEMENTS = ["click", "call", "href", "section", "title", "accTitle", "accTitle:", "accDescr", "accDescr{",
              "accDescr {", "accDescription", "weekday monday", "weekend friday", "gantt", "dateFormat",
              "axisFormat", "tickInterval", "includes", "excludes", "todayMarker", "topAxis", "inclusiveEndDates",
              "2024-01-02", "%%", "%%{init: {}}%%", "a%", ":", "#1;", "\ufb02\u00b0lt\u00b6\u00df", '<a href="x">']
ANY_CHAR = st.characters(blacklist_categories=())  # every category: controls, spaces, lone surrogates
hostile = st.builds(lambda blank, word, rest: blank + word + rest, st.sampled_from(["", *JS_BLANKS]),
                    st.sampled_from(STATEMENTS), st.sampled_from(["", " x", " x call eval(alert`x`)", "\n"]))
args = st.one_of(st.text(ANY_CHAR, max_size=3), hostile)


def decoded(label):
    return re.sub(r"#(\d+);", lambda match: chr(int(match.group(1))), label)


def shown(argv, filename=None, empty="(unknown command)"):
    """What a label says of an argv: the program's name, then the arguments, quoted where they hold
    blanks or quotes, with every character that does not print escaped."""
    words = list(argv) or ([filename] if filename else [])
    if not words:
        return empty
    words[0] = words[0].rsplit("/", 1)[-1] or words[0]
    quoted = ["'" + word.replace("'", "'\\''") + "'" if not word or re.search(r"[\s'\"]", word) else word
              for word in words]
    return readable(" ".join(quoted))


def chart(events, options=None):
    warnings = []
    text = b"".join(render(fold([items_of_events(events)]), warn=warnings.append, options=options)).decode("ascii")
    return text, warnings


def task_labels(text):
    """The decoded labels of the chart's task lines, after checking that every line has its shape."""
    labels = []
    for line in text.splitlines():
        match = TASK_LINE.fullmatch(line)
        if match:
            labels.append(decoded(match.group(1)))
        else:
            assert line in HEAD or TEXT_LINE.fullmatch(line), line
    return labels


def same_or_cut_in_the_middle(label, text):
    return label == text or any(label[cut:cut + 3] == "..." and text.startswith(label[:cut])
                                and text.endswith(label[cut + 3:]) and len(label) - 3 < len(text)
                                for cut in range(len(label)))


@settings(max_examples=300, deadline=None)
@given(st.lists(args, max_size=3), st.none() | args, st.lists(args, max_size=3))
@example(["\ufeffclick", "task1", "call", "eval(alert`x`)"], None, ["\ufeffsection evil"])
@example(["\ufefftitle x"], None, ["call"])
@example(["href"], None, ["accDescr{ x"])
@example([], "/usr/bin/\u2028%%{init: {}}%%", ["weekend friday"])
def test_no_argv_makes_a_task_line_read_as_anything_but_a_task_with_its_label(argv, filename, second):
    # issue 10: a label starting with U+FEFF and "click" became a click statement
    events = [Fork(0, 1, 2, 1), Exec(1_000, 2, 1, 2, tuple(argv), filename), Exec(500_000_000, 2, 1, 2, tuple(second)),
              Fork(600_000_000, 2, 3, 2), Exit(700_000_000, 3, 2, 2, None, 0), Exit(1_000_000_000, 2, 1, 2, None, 3)]
    text, _ = chart(events)
    root, child, first, then = task_labels(text)
    suffixes = [" (pid 2, 1.00 s) [exit 3]", " (fork) (pid 3, 100 ms)", " (500 ms)", " (500 ms)"]
    commands = [shown(second), shown(second), shown(argv, filename, "(empty argv)"), shown(second, None, "(empty argv)")]
    for label, suffix, command in zip([root, child, first, then], suffixes, commands):
        assert label.isprintable() and label.endswith(suffix)
        assert same_or_cut_in_the_middle(label[:-len(suffix)], command)
    assert text.count("\n    section ") == 2


@settings(max_examples=500, deadline=None)
@given(st.text(ANY_CHAR))
@example("\ufeffclick x call alert(1)")
@example("\u00b6\u00df\ufb02\u00b0lt\u00b6\u00df")
def test_a_label_decodes_back_to_its_readable_text(text):
    label = escape_label(text)
    assert readable(text).isprintable() and (readable(text) == text or not text.isprintable())
    assert decoded(label) == readable(text)
    assert re.fullmatch(LABEL, label) or text == ""


@pytest.mark.parametrize("argv, filename, text", [
    (["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "x.c"], None, "cc1 -quiet x.c"),
    (["python3", "/long/path/script.py", "--out=a b"], None, "python3 /long/path/script.py '--out=a b'"),
    (["-bash"], None, "-bash"),
    (["dir/"], None, "dir/"),
    ([], "/usr/bin/env", "env"),
    ([], None, ""),
    (["\ufeffclick", "task1"], None, "\\ufeffclick task1"),
])
def test_a_command_is_its_program_name_and_arguments(argv, filename, text):
    assert command_text(argv, filename) == text


def test_a_long_command_is_cut_in_the_middle_to_its_room():
    text = "cc1 " + " ".join(f"-Iinclude/dir{n}" for n in range(40)) + " -o /tmp/ccX.s"
    short = fit(text, 3000)
    assert text_width(short) <= 3000 < text_width(text)
    head, tail = short.split("...")
    assert text.startswith(head) and text.endswith(tail) and len(head) > len(tail) > 5
    for room in range(1500, 4000, 50):  # never half an escape: the end of \x1b is no escape
        cut = fit("a" * 40 + "\\u2028\\x1b" * 20 + "z", room)
        assert re.fullmatch(r"a*\.\.\.((\\u2028|\\x1b)*z)?|a*(\\u2028|\\x1b)*\.\.\.(\\u2028|\\x1b)*z", cut), cut
    measured = fit("#" * 50, 3000, measured=True)
    assert measured_width(measured) <= 3000 < measured_width("#" * 50) and "..." in measured


def test_rooms_follow_mermaids_layout():
    # a bar Mermaid drew at x 404 (+75 padding), 152 px wide, on a 31 s axis
    left, right = Scale(0, 31000).rooms(9716, 14202)
    assert (left, right) == (int((329 + 70) * 0.9 * 100 / 11), int((1087.5 - 481) * 0.9 * 100 / 11))
    label = fit_label("cc1 " + "-x " * 200, " (pid 1, 4.48 s)", left, right)
    assert text_width(label) <= left or measured_width(label) <= right
    assert Scale(0, 1000).rooms(0, 1000)[1] == int(1050 * 0.9 * 100 / 11)  # inside its bar


def build(durations_ms):
    """A make and one cc child a duration, one after the other's start."""
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("make", "-j2"))]
    end = 0
    for n, ms in enumerate(durations_ms):
        pid, start = 100 + n, 1_000_000 * (n + 1)
        events += [Fork(start, 2, pid, 2), Exec(start + 1, pid, 2, 2, ("cc", "-c", f"file{n}.c")),
                   Exit(start + ms * 1_000_000, pid, 2, 2, None, 0)]
        end = max(end, start + ms * 1_000_000)
    return sorted(events + [Exit(end + 1, 2, 1, 2, None, 0)], key=lambda event: event.timestamp)


def test_a_chart_too_big_for_mermaid_hides_its_shortest_leaves():
    durations = [(n * 7919) % 2000 + 1 for n in range(2000)]
    text, warnings = chart(build(durations))
    assert len(text) <= MAX_TEXT_SIZE
    drawn = {int(pid) for pid in re.findall(r"#99;c -c file\d+\.c \(pid (\d+),", text)}
    title = text.splitlines()[2]
    hidden, below, unit = re.fullmatch(r"    title Process Trace \((\d+) processes under ([\d.]+) (m?s) hidden\)",
                                       title).groups()
    threshold_ms = float(below) * (1000 if unit == "s" else 1)
    assert int(hidden) == 2000 - len(drawn) > 0
    assert drawn == {100 + n for n, ms in enumerate(durations) if ms >= threshold_ms}
    assert len(warnings) == 1 and f"hid {hidden} of 2001 processes, those under {below} {unit}" in warnings[0]
    assert "--all" in warnings[0]


def test_all_draws_every_process_and_warns_of_the_size():
    text, warnings = chart(build([5] * 2000), RenderOptions(everything=True))
    assert len(text) > MAX_TEXT_SIZE and text.count("(pid ") == 2001 and "hidden" not in text
    assert len(warnings) == 1 and "maxTextSize" in warnings[0]


def test_min_duration_is_said_in_the_title(tmp_path, capsys):
    path = tmp_path / "rec.jsonl"
    from proctrace.events import to_json
    path.write_text("".join(to_json(event) + "\n" for event in build([1, 2, 30])))
    assert main(["render", "-f", "mermaid", "--min-duration", "10ms", "-i", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "    title Process Trace (2 processes under 10 ms hidden)\n" in out and err == ""


@settings(max_examples=300, deadline=None)
@given(histories(), st.integers(0, 12))
def test_hiding_by_subtree_keys_is_hide_short_leaves(events, threshold):
    if not events:
        return
    ours, theirs = (fold([items_of_events(events)]) for _ in range(2))
    assert hide(ours, subtree_keys(ours), threshold) == hide_short_leaves(theirs, threshold)

    def shape(recording):
        return [(p.pid, p.start_ns, [c.pid for c in p.children]) for p in recording.processes], recording.hidden
    assert shape(ours) == shape(theirs)


@pytest.mark.parametrize("ns, rounded, text", [
    (15_234_567, 16_000_000, "16 ms"), (1_000_000, 1_000_000, "1 ms"), (1_230_001, 1_300_000, "1.3 ms"),
    (129_000, 130_000, "0.13 ms"), (2_450_000_000, 2_500_000_000, "2.5 s"), (7, 7, "0.000007 ms"),
])
def test_a_threshold_is_rounded_up_to_two_digits(ns, rounded, text):
    assert round_up(ns) == rounded and shown_duration(rounded) == text


@settings(max_examples=300, deadline=None)
@given(st.text(ANY_CHAR, max_size=300).map(readable), st.integers(500, 12000), st.integers(500, 12000))
@example("cc1 " + "-I include/project/configuration " * 20, 3200, 900)
def test_a_fitted_label_is_drawn_whole_where_mermaid_puts_it(command, left, right):
    # every bar leaves at least 386 px on one side or inside (3158 hundredths of an em, less the margin)
    assume(max(left, right) >= 3158)
    suffix = " (pid 4242, 1.00 s) [exit 1]"
    label = fit_label(command or "x", suffix, left, right)
    assert label.endswith(suffix) and len(label) <= 100 + len(suffix)
    assert text_width(label) <= left or measured_width(label) <= right
