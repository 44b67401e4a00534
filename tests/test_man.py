"""The man pages: they render without warnings, document every option, and get installed.

    groff -man -ww -z man/proctrace-sort.1   (no output: no warnings)
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proctrace import __version__
from proctrace.cli import build_parser
from proctrace.render import RENDERERS

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "man"
PAGES = sorted(MAN.glob("*.[0-9]"))
SUBCOMMANDS = ["record", "sort", "render", "diff"]
EXPECTED_PAGES = ["proctrace.1", "proctrace.5"] + [f"proctrace-{name}.1" for name in SUBCOMMANDS]
SECTIONS_1 = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
# a file format has no options and no exit status
SECTIONS_5 = ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "SEE ALSO"]


def _need(tool, *, in_ci=True):
    """The path of `tool`; skip without it, except in CI when .ci/run installs it (`in_ci`)."""
    path = shutil.which(tool)
    if path is None:
        if in_ci and os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed (.ci/run should install it)")
        pytest.skip(f"{tool} is not installed")
    return path


def _plain(page: Path) -> str:
    """The roff source with its escaped hyphens (\\-) made plain, for searching."""
    return page.read_text(encoding="utf-8").replace("\\-", "-")


def _mentions(text: str, option: str) -> bool:
    """Does `text` name `option` as a whole word (--window, not --window-size)?"""
    start = text.find(option)
    while start != -1:
        end = start + len(option)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if before != "-" and not (after.isalnum() or after in "-_"):
            return True
        start = text.find(option, start + 1)
    return False


def _subparsers():
    parser = build_parser()
    return parser, parser._subparsers._group_actions[0].choices


def _long_options(parser):
    return sorted({opt for action in parser._actions for opt in action.option_strings
                   if opt.startswith("--")})


def test_every_page_is_there():
    assert [page.name for page in PAGES] == sorted(EXPECTED_PAGES)


def test_every_subcommand_has_a_page():
    _, commands = _subparsers()
    assert sorted(commands) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_renders_without_warnings(page):
    groff = _need("groff")
    result = subprocess.run([groff, "-man", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_renders_as_text(page):
    """What `man -l` shows: the page's name and every section heading, nothing on stderr."""
    groff = _need("groff")
    result = subprocess.run([groff, "-man", "-ww", "-Tutf8", str(page)], capture_output=True)
    assert result.returncode == 0
    assert result.stderr == b""
    text = re.sub(".\x08", "", result.stdout.decode("utf-8"))  # no bold or underline by overstriking
    title = page.stem.upper() + "(" + page.suffix[1:] + ")"
    assert text.lstrip().startswith(title)
    sections = SECTIONS_5 if page.suffix == ".5" else SECTIONS_1
    for section in sections:
        assert f"\n{section}\n" in text, f"{page.name} has no {section} section"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_opens_with_man(page, tmp_path):
    man = _need("man", in_ci=False)  # man-db is optional: groff above does the real check
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", HOME=str(tmp_path))
    result = subprocess.run([man, "-l", str(page)], capture_output=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert b"NAME" in result.stdout


def test_top_level_options_are_in_proctrace_1():
    parser, _ = _subparsers()
    text = _plain(MAN / "proctrace.1")
    missing = [opt for opt in _long_options(parser) if not _mentions(text, opt)]
    assert not missing, f"proctrace.1 does not document {missing}"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_long_option_is_in_its_page(name):
    _, commands = _subparsers()
    options = _long_options(commands[name])
    assert options, f"found no options of {name}: has the parser changed shape?"
    raw = (MAN / f"proctrace-{name}.1").read_text(encoding="utf-8")
    text = _plain(MAN / f"proctrace-{name}.1")
    missing = [opt for opt in options if not _mentions(text, opt)]
    assert not missing, f"proctrace-{name}.1 does not document {missing}"
    for opt in options:
        # written as roff wants it: \-\-window, never a bare hyphen that groff may turn into a dash
        assert opt.replace("-", "\\-") in raw, f"proctrace-{name}.1 writes {opt} without \\- escapes"


def test_every_short_option_is_in_its_page():
    _, commands = _subparsers()
    for name, parser in commands.items():
        text = _plain(MAN / f"proctrace-{name}.1")
        shorts = {opt for action in parser._actions for opt in action.option_strings
                  if len(opt) == 2 and opt[0] == "-" and opt[1] != "-"}
        missing = sorted(opt for opt in shorts if not _mentions(text, opt))
        assert not missing, f"proctrace-{name}.1 does not document {missing}"


def test_every_format_is_in_the_render_page():
    text = _plain(MAN / "proctrace-render.1")
    missing = [name for name in RENDERERS if f".B {name}" not in text]
    assert not missing, f"proctrace-render.1 does not describe the formats {missing}"


@pytest.mark.parametrize("status", ["0", "1", "2", "3", "130", "141"])
def test_exit_statuses_are_in_proctrace_1(status):
    assert f".TP\n.B {status}\n" in (MAN / "proctrace.1").read_text(encoding="utf-8")


def _make(*args, cwd=ROOT):
    make = _need("make")
    result = subprocess.run([make, "--no-print-directory", "-C", str(cwd), *args],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _installed(root: Path):
    """Every file `make install PREFIX=/usr` should put under `root`."""
    files = [root / "usr/bin/proctrace"]
    # the whole package, with its data files (the bpftrace program)
    files += [root / "usr/lib/proctrace" / path.relative_to(ROOT)
              for path in sorted((ROOT / "proctrace").rglob("*"))
              if path.is_file() and "__pycache__" not in path.parts]
    files += [root / "usr/share/man" / f"man{page.suffix[1:]}" / page.name for page in PAGES]
    return files


def test_make_install_and_uninstall_honour_destdir(tmp_path):
    dest = tmp_path / "dest"
    _make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    files = _installed(dest)
    missing = [str(path.relative_to(dest)) for path in files if not path.is_file()]
    assert not missing, f"make install did not install {missing}"
    assert os.access(dest / "usr/bin/proctrace", os.X_OK)
    assert not list(dest.rglob("__pycache__"))
    # nothing outside the usual places
    assert sorted(p.name for p in dest.iterdir()) == ["usr"]
    assert sorted(p.name for p in (dest / "usr").iterdir()) == ["bin", "lib", "share"]

    _make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    left = [str(path.relative_to(dest)) for path in files if path.exists()]
    assert not left, f"make uninstall left {left}"
    assert not (dest / "usr/lib/proctrace").exists()


def test_installed_command_runs_without_the_source_tree(tmp_path):
    # The installed script holds its library path, so install straight to PREFIX to run it.
    prefix = tmp_path / "prefix"
    _make("install", f"PREFIX={prefix}")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = str(prefix / "bin" / "proctrace")
    result = subprocess.run([command, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"proctrace {__version__}"
    # and it imports the installed copy, not this checkout (python -v names each file it loads)
    verbose = subprocess.run([sys.executable, "-v", command, "--version"], capture_output=True,
                             text=True, env=env, cwd=tmp_path)
    assert verbose.returncode == 0
    assert str(prefix / "lib" / "proctrace" / "proctrace" / "cli.py") in verbose.stderr
    assert str(ROOT / "proctrace" / "cli.py") not in verbose.stderr
    for page in PAGES:
        assert (prefix / "share" / "man" / f"man{page.suffix[1:]}" / page.name).is_file()
    _make("uninstall", f"PREFIX={prefix}")
    assert not (prefix / "bin" / "proctrace").exists()
