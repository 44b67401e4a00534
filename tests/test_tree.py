"""render -f tree, and the escaping of hostile argv that every text format shares (render/text.py)."""

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proctrace.cli import main
from proctrace.events import Exec, Exit, Fork, Lost, to_json
from proctrace.model import fold
from proctrace.pipeline import items_of_events
from proctrace.selection import hide_short_leaves, narrowed
from proctrace.render import RenderOptions
from proctrace.model import raw_fields_of
from proctrace.render.text import INVISIBLE, command_text, command_texts, duration, durations, escaped_word, fit, shown
from proctrace.render.tree import render
from strategies import argvs, cmdlines

ROOT = Path(__file__).resolve().parent.parent
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)  # surrogates, controls, bidi: all of it
ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)")
BASH = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'"}


def _unescape(match):
    code = match.group(1)
    if code in BASH:
        return BASH[code]
    value = int(code[1:], 16)
    return chr(value) if code[0] != "x" or value < 0x80 else chr(0xDC00 + value)  # \xNN from 80: a byte


def shell_words(text):
    """The argv a shell would make of command_text's output: plain words, '...', and $'...' with escapes."""
    words, word, index, started = [], [], 0, False
    while index < len(text):
        char = text[index]
        if char == " ":
            if started:
                words.append("".join(word))
            word, started = [], False
            index += 1
        elif text.startswith("$'", index):
            end = index + 2
            while text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            word.append(ESCAPE.sub(_unescape, text[index + 2:end]))
            index, started = end + 1, True
        elif char == "'":
            end = text.index("'", index + 1)
            word.append(text[index + 1:end])
            index, started = end + 1, True
        elif text.startswith("\\'", index):
            word.append("'")
            index, started = index + 2, True
        else:
            word.append(char)
            index, started = index + 1, True
    if started:
        words.append("".join(word))
    return words


def _allowed(text):
    return all(char.isprintable() and not INVISIBLE.match(char) for char in text)


@example(argv=["\x1b[31mred", "a\u202eb", "\u2028", "\udcff", "\u0085", "caf\u00e9", "", "it's", "\\x41"])
@example(argv=["\u3164", "\ufe0f", "\U000e0101", "a b", "\t", "\ud800"])
@settings(max_examples=500)
@given(st.lists(ANY_TEXT, max_size=6))
def test_a_command_is_shown_with_allowed_characters_only_and_reads_back_as_its_argv(argv):
    text = command_text(argv)
    assert _allowed(text)
    assert shell_words(text) == argv


@given(ANY_TEXT)
def test_shown_text_has_allowed_characters_only(text):
    assert _allowed(shown(text))
    assert ESCAPE.sub(_unescape, shown(text)) == text


@pytest.mark.parametrize("argv, expected", [
    (["make", "-j8"], "make -j8"),
    (["sh", "-c", "echo 'hi' > x"], "sh -c 'echo '\\''hi'\\'' > x'"),
    (["printf", "%s\n", ""], "printf $'%s\\n' ''"),
    (["cat", "caf\udce9", "\x1b[2J"], "cat $'caf\\xe9' $'\\x1b[2J'"),
    (["ls", "evil\u202etxt.exe"], "ls $'evil\\u202etxt.exe'"),
    (["echo", "caf\u00e9", "日本"], "echo caf\u00e9 日本"),
])
def test_command_text(argv, expected):
    assert command_text(argv) == expected


def test_escaped_word_quotes_only_what_needs_it():
    assert [escaped_word(word) for word in ["a", "a b", "", "$HOME", "x=1", "a\\b"]] == \
        ["a", "'a b'", "''", "'$HOME'", "x=1", "'a\\b'"]


def test_fit_cuts_to_columns():
    assert fit("abcdef", 4) == "abc…"
    assert fit("日本語です", 5) == "日本…"  # wide characters take two columns
    assert fit("short", 10) == "short"


@pytest.mark.parametrize("ns, text", [(0, "0.00 ms"), (400_000, "0.40 ms"), (12_345_678, "12 ms"),
                                      (1_234_000_000, "1.23 s"), (65_170_000_000, "65.2 s"),
                                      (3_600_000_000_000, "3600.0 s")])
def test_durations_are_in_ms_or_s(ns, text):
    assert duration(ns) == text


# each unit's ties, after a value of the text they would share if rounded up (the float's rounding
# takes them down), and values past where that rounding is trusted
@example(values=[20_000, 15_000, 11_000_000, 10_500_000, 1_010_000_000, 1_005_000_000, 10_300_000_000,
                 10_250_000_000, 10**15 + 50_000_000, -5_000, -1, 2**70])
@given(st.lists(st.one_of(st.integers(-10**6, 10**17), st.integers(0, 10**9).map(lambda k: k * 5_000)), max_size=50))
def test_many_durations_are_formatted_as_each_alone(values):
    assert durations(values, 9) == [duration(ns).rjust(9) for ns in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(argvs, cmdlines), st.none() | st.sampled_from(["/bin/cc", "a b", "x]", ""])),
                min_size=1, max_size=12))
def test_many_commands_are_shown_as_each_alone(execs):
    events = [Exec(i, 10 + i, 1, 10, argv, filename) for i, (argv, filename) in enumerate(execs)]
    recording = fold([items_of_events(events)])
    steps = [proc.execs[0] for proc in recording.processes]
    assert command_texts(raw_fields_of(steps)) == [command_text(argv) for argv, _ in execs]


def _tree(events, **options):
    recording = fold([items_of_events(events)])
    return b"".join(render(recording, warn=pytest.fail, options=RenderOptions(**options))).decode()


BUILD = [Fork(0, 1, 10, 1), Exec(1_000_000, 10, 1, 10, ("sh", "-c", "make; ./check")),
         Fork(2_000_000, 10, 11, 10), Exec(2_500_000, 11, 10, 10, ("make",)),
         Exec(3_000_000, 11, 10, 10, ("make", "all")),
         Fork(4_000_000, 11, 12, 10), Exec(4_100_000, 12, 11, 10, ("cc", "-c", "a.c")),
         Exit(24_000_000, 12, 11, 10, None, 1, None),
         Fork(25_000_000, 11, 13, 10),
         Exit(30_000_000, 11, 10, 10, None, 2, None),
         Fork(31_000_000, 10, 14, 10), Exec(31_500_000, 14, 10, 10, ("sleep", "5")),
         Exit(40_000_000, 13, 11, 10, None, None, 15),
         Exit(50_000_000, 10, 1, 10, None, 0, None),
         Exit(2_150_000_000, 14, 10, 10, None, 0, None)]


def test_the_tree_shows_times_pids_drawing_commands_and_endings():
    assert _tree(BUILD) == """\
  START     TIME  PID  COMMAND
0.00 ms    50 ms   10  sh -c 'make; ./check'
2.00 ms    28 ms   11  ├─ make all  [exit 2]
2.50 ms  0.50 ms       │  │  exec make
3.00 ms    27 ms       │  │  exec make all
4.00 ms    20 ms   12  │  ├─ cc -c a.c  [exit 1]
  25 ms    15 ms   13  │  └─ make all (fork)  [killed by SIGTERM]
  31 ms   2.12 s   14  └─ sleep 5  [outlived the root by 2.10 s]
"""


def test_colour_marks_failures_and_outliving_processes_only_when_asked():
    plain = _tree(BUILD)
    coloured = _tree(BUILD, color=True)
    assert "\x1b" not in plain
    lines = coloured.splitlines()
    assert "\x1b[31mmake all  [exit 2]\x1b[0m" in lines[2]
    assert "\x1b[33msleep 5  [outlived the root by 2.10 s]\x1b[0m" in lines[-1]
    assert "\x1b" not in lines[1] and "\x1b" not in lines[3]
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_commands_are_cut_to_the_terminal_unless_wide():
    events = [Fork(0, 1, 10, 1), Exec(1, 10, 1, 10, ("cc",) + ("-Dflag",) * 40), Exit(9, 10, 1, 10, None, 3, None)]
    narrow = _tree(events, width=60).splitlines()
    assert all(len(line) <= 60 for line in narrow)
    assert narrow[1].endswith("…  [exit 3]")
    wide = _tree(events, width=60, wide=True).splitlines()
    assert wide[1].endswith("-Dflag  [exit 3]") and len(wide[1]) > 60
    assert _tree(events) == "\n".join(wide) + "\n"  # not a terminal: nothing is cut


def test_what_the_recording_lacks_is_stated_in_the_output():
    events = [Fork(0, 1, 10, 1), Exec(1, 10, 1, 10, ("a",)), Lost(2, 7), Exec(3, 20, 5, 20, ("stray",)),
              Fork(4, 10, 11, 10), Exit(5, 10, 1, 10, None, 0, None)]
    text = _tree(events)
    assert text.splitlines()[:4] == [
        "warning: the kernel lost 7 events: the recording is incomplete",
        "warning: 2 processes have no exit in the recording: counted as running until its end",
        "warning: 1 process has events but no fork in the recording: they started before it",
        "2 trees: some processes' parents are not in the recording (render --pid PID shows one tree)"]
    assert "stray  [no exit seen]" in text
    assert "a (fork)  [no exit seen, outlived the root]" in text


def test_hidden_processes_are_counted_in_the_output():
    recording = fold([items_of_events(BUILD)])
    hide_short_leaves(recording, 16_000_000)
    text = b"".join(render(recording, warn=pytest.fail, options=RenderOptions())).decode()
    assert text.startswith("warning: 1 process shorter than 16 ms hidden (--min-duration)\n")
    assert " 13 " not in text and " 12 " in text


def test_pid_narrows_to_one_subtree():
    recording = fold([items_of_events(BUILD)])
    part = narrowed(recording, recording.processes[1])
    assert b"".join(render(part, warn=pytest.fail, options=RenderOptions())).decode() == """\
  START     TIME  PID  COMMAND
0.00 ms    28 ms   11  make all  [exit 2]
0.50 ms  0.50 ms       │  exec make
1.00 ms    27 ms       │  exec make all
2.00 ms    20 ms   12  ├─ cc -c a.c  [exit 1]
  23 ms    15 ms   13  └─ make all (fork)  [killed by SIGTERM, outlived the root by 10 ms]
"""  # times count from the narrowed root, and 13 outlived it


@settings(max_examples=200, deadline=None)
@given(st.lists(cmdlines, min_size=1, max_size=5))
def test_every_line_of_the_tree_is_safe_for_a_terminal(argvs):
    events = [Fork(0, 1, 10, 1)] + [Exec(1 + i, 10, 1, 10, argv) for i, argv in enumerate(argvs)]
    events += [Fork(10, 10, 11, 10), Exec(11, 11, 10, 10, argvs[-1]), Exit(12, 11, 10, 10, None, 0, None)]
    for line in _tree(events).splitlines():
        assert _allowed(line)


def _cli_tree(tmp_path, events, *args):
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(to_json(event).encode() + b"\n" for event in events))
    return ["render", "-f", "tree", "-i", str(path), *args]


def test_render_f_tree_with_min_duration_and_pid(tmp_path, capsys):
    assert main(_cli_tree(tmp_path, BUILD, "--min-duration", "16ms")) == 0
    out = capsys.readouterr().out
    assert "1 process shorter than 16 ms hidden (--min-duration)" in out and "(fork)" not in out
    assert main(_cli_tree(tmp_path, BUILD, "--pid", "11")) == 0
    out = capsys.readouterr().out
    assert "sleep 5" not in out and out.splitlines()[1].endswith("make all  [exit 2]")


def _on_a_terminal(args, env):
    """Run proctrace with its standard output on a pseudo-terminal 70 columns wide; what it wrote there."""
    primary, secondary = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 70, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "proctrace", *args], stdout=secondary,
                               stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_on_a_terminal_commands_fit_and_failures_are_red_unless_no_color(tmp_path):
    long = [Fork(32_000_000, 10, 15, 10), Exec(32_500_000, 15, 10, 10, ("cc",) + ("-Dflag",) * 20),
            Exit(33_000_000, 15, 10, 10, None, 0, None)]
    args = _cli_tree(tmp_path, sorted(BUILD + long, key=lambda event: event.timestamp))
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(ROOT)
    coloured = _on_a_terminal(args, env)
    assert "\x1b[31m" in coloured and "\x1b[33m" in coloured
    plain = _on_a_terminal(args, dict(env, NO_COLOR="1"))
    assert "\x1b" not in plain
    assert all(len(line) <= 70 for line in plain.splitlines())
    assert "cc -Dflag -Dflag" in plain and "…" in plain
    wide = _on_a_terminal(args + ["--wide"], dict(env, NO_COLOR="1"))
    assert "cc" + " -Dflag" * 20 + "\n" in wide
