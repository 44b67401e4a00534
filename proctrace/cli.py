"""The command line: argparse, opening files, chaining the stages, exit codes.

No logic lives here: each subcommand opens its input and output, chains the
generator stages and turns the library's exceptions into one line on stderr
and an exit status (see EXIT STATUS in proctrace(1)).
"""

from __future__ import annotations

import os
import sys
from proctrace import __version__

TYPE_CHECKING = False  # typing itself costs start-up time (4 ms): for type checkers only
if TYPE_CHECKING:
    import argparse
    from typing import Callable, Iterable, Iterator, List, Optional

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_BAD_INPUT = 1      # bad input or an I/O error
EXIT_USAGE = 2          # argparse's own
EXIT_TRACER = 3         # bpftrace missing, failed, or not permitted
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shells report it for C filters

DEFAULT_WINDOW = "1s"


def _window(text: str) -> Optional[int]:
    import argparse
    from proctrace.sort import parse_duration
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _duration(text: str) -> int:
    import argparse
    from proctrace.sort import parse_duration
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite duration")
    return value


def _percent(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage such as 5 or 2.5")
    return value


def _add_io(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", metavar="PATH", default="-",
                        help="the recording to read (default: -, standard input)")
    parser.add_argument("-o", "--output", metavar="PATH", default="-",
                        help="where to write (default: -, standard output)")
    parser.add_argument("--window", metavar="DURATION", type=_window, default=DEFAULT_WINDOW,
                        help="how far out of order events may arrive, in event time: "
                             "500ms, 2s, ... or inf for a full sort (default: %(default)s)")
    parser.add_argument("--line-buffered", action="store_true",
                        help="flush the output as soon as events are written")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (the man pages are checked against it)."""
    import argparse
    from proctrace.render import FORMATS
    parser = argparse.ArgumentParser(
        prog="proctrace",
        description="Record the process tree of a command (fork, exec, exit, setsid, setpgid) "
                    "and render it as JSON lines or a Mermaid Gantt chart.",
        epilog="Example: proctrace record -- make -j8 | proctrace sort | proctrace render -f mermaid")
    parser.add_argument("-V", "--version", action="version", version=f"proctrace {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    commands.required = True

    record = commands.add_parser(
        "record", help="record the process lifecycle events of a command",
        description="Record the process tree of CMD (or of a running process, with --pid) with "
                    "bpftrace. Only bpftrace runs as root (through sudo when needed); the command "
                    "runs as the calling user. Exits with the command's exit status.")
    record.add_argument("-o", "--output", metavar="PATH", default="-",
                        help="where to write the recording (default: -, standard output; the "
                             "command's own standard output then goes to standard error)")
    record.add_argument("-b", "--bpftrace-path", metavar="PATH", default="bpftrace",
                        help="the bpftrace executable (default: %(default)s)")
    record.add_argument("--debug", action="store_true", help="show bpftrace's raw output on standard error")
    record.add_argument("-p", "--pid", metavar="PID", type=int,
                        help="record a running process and its descendants instead of a command")
    record.add_argument("--follow-orphans", action="store_true",
                        help="keep recording until processes that outlive the command exit too")
    record.add_argument("--print-script", action="store_true",
                        help="print the bpftrace program that would run as root, and exit")
    record.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD",
                        help="the command to record, after --")
    record.set_defaults(func=_record, subparser=record)

    sort = commands.add_parser(
        "sort", help="sort a recording by timestamp",
        description="Write a recording in timestamp order. Events are held only within a "
                    "window of event time, so memory stays bounded whatever the input size.")
    _add_io(sort)
    sort.set_defaults(func=_sort)

    render = commands.add_parser(
        "render", help="render a recording in a display format",
        description="Render a recording (sorted or not) in a display format.",
        epilog="formats:\n" + "\n".join(f"  {name:<13} {FORMATS[name].description}" for name in sorted(FORMATS)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    render.add_argument("-f", "--format", "-d", "--display-mode", dest="format", metavar="FORMAT",
                        choices=sorted(FORMATS), default="multiplexed",
                        help="one of %s (default: %%(default)s); -d/--display-mode is the "
                             "original's name for it" % ", ".join(sorted(FORMATS)))
    _add_io(render)
    render.add_argument("--pid", metavar="PID", type=int,
                        help="tree formats: show only this process and its descendants")
    render.add_argument("--min-duration", metavar="DURATION", type=_duration,
                        help="tree formats: hide leaf processes shorter than this (500ms, 2s, ...)")
    render.add_argument("--wide", action="store_true", help="tree: never shorten commands to the terminal's width")
    render.add_argument("--all", action="store_true",
                        help="mermaid: draw every process, even past Mermaid's 50,000-character limit; "
                             "summary: list every failure and critical path segment")
    render.set_defaults(func=_render)

    diff = commands.add_parser(
        "diff", help="compare two recordings of the same job",
        description="Compare two recordings of the same job, A then B: wall time, critical path, and "
                    "which commands took more or less time, ran more or less often, or ran in one only. "
                    "Processes are matched by their commands, never by pid. Exits 0 whatever the "
                    "difference.")
    diff.add_argument("a", metavar="A", help="the first recording (- for standard input)")
    diff.add_argument("b", metavar="B", help="the second recording (- for standard input)")
    diff.add_argument("-o", "--output", metavar="PATH", default="-",
                      help="where to write (default: -, standard output)")
    diff.add_argument("--json", action="store_true", help="write one JSON object instead of the text report")
    diff.add_argument("--key", choices=["path", "argv"], default="path",
                      help="match processes by the commands from the root down to them (path, the default) "
                           "or by their own command alone (argv)")
    diff.add_argument("--min-delta", metavar="DURATION", type=_duration, default="1ms",
                      help="noise gate: hide a change smaller than this and than --min-percent (default: 1ms)")
    diff.add_argument("--min-percent", metavar="PERCENT", type=_percent, default="5",
                      help="noise gate: hide a change smaller than this share of A's time and than "
                           "--min-delta (default: 5)")
    diff.add_argument("--window", metavar="DURATION", type=_window, default=DEFAULT_WINDOW,
                      help="how far out of order events may arrive, as for sort (default: %(default)s)")
    diff.add_argument("--wide", action="store_true", help="never shorten commands")
    diff.set_defaults(func=_diff, subparser=diff)
    return parser


def _open_input(path: str):
    """The file to read; `-` is standard input, left open for the interpreter to close."""
    from contextlib import nullcontext
    from proctrace.errors import ProctraceError
    if path != "-":
        return open(path, "rb")
    if sys.stdin is None:
        raise ProctraceError("<stdin>: standard input is closed")
    return nullcontext(sys.stdin.buffer)


def _open_output(path: str, *sources: str, whole: bool = False):
    """The file to write; `-` is standard output, left open for the interpreter to close.

    A name ending in .gz is written gzip-compressed, with no name or time in
    its header, so the same output gives the same bytes.  A file that is
    also an input (named, or as standard input or output) is refused
    before it is opened, which would empty it, or appending to it, which
    would read our own output back without end.  `whole`: written to a new
    file put in its place at the end, so that an error leaves it as it was.
    """
    from contextlib import nullcontext
    from proctrace.errors import ProctraceError
    for source in sources:
        if _same_file(source, path):
            raise ProctraceError(f"{_name(path, '<stdout>')}: is also the input: writing it would destroy "
                                 f"the recording; write to another file")
    if path == "-":
        if sys.stdout is None:
            raise ProctraceError("<stdout>: standard output is closed")
        return nullcontext(sys.stdout.buffer)
    from proctrace.outfile import written
    return written(path, whole=whole)


def _same_file(a: str, b: str) -> bool:
    """Whether `a` and `b` (`-`: standard input and output) are one regular file."""
    import stat
    ids = []
    for path, stream in ((a, sys.stdin), (b, sys.stdout)):
        try:
            info = os.stat(path) if path != "-" else os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            return False  # the output does not exist yet (or the input cannot be read: said later)
        if not stat.S_ISREG(info.st_mode):
            return False
        ids.append((info.st_dev, info.st_ino))
    return ids[0] == ids[1]


def _name(path: str, stream: str = "<stdin>") -> str:
    return stream if path == "-" else path


def _write(out, data: bytes, piece: int = 1 << 16) -> None:
    """Write in pieces: one huge write to a pipe whose reader left can end in a
    short write that Python reports as success, losing the broken pipe."""
    if len(data) <= piece:
        out.write(data)
        return
    view = memoryview(data)  # slices of a view are not copies
    for start in range(0, len(data), piece):
        out.write(view[start:start + piece])


def _say(line: str) -> None:
    """One line on standard error, or none when it is closed (`2>&-`): print
    would write it to standard output instead, into the recording or JSON.
    A pipe there whose reader left must not stop the output either: the
    rest goes to /dev/null, as does the flush at interpreter shutdown."""
    if sys.stderr is None:
        return
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stderr.fileno())
        except (OSError, ValueError):
            pass  # not a file descriptor: nothing is flushed to it at shutdown
        os.close(devnull)


def _warn(message: str) -> None:
    _say(f"proctrace: warning: {message}")


def _report_late(stats, window_ns: Optional[int]) -> None:
    from proctrace.sort import format_duration
    if stats.late:
        _warn(f"{stats.late} events arrived later than the {format_duration(window_ns)} window allowed "
              f"and were written out of order; --window {format_duration(stats.needed_window_ns)} "
              f"would have sufficed")


def _finish_input_on_interrupt(stream) -> List[int]:
    """On a pipe, let the first Ctrl-C pass: it reached the whole pipeline, and
    `record` before us ends its command, writes the last events and closes
    the pipe; we finish what it wrote, then exit 130 as if interrupted, so
    that a script stops.  A second Ctrl-C stops us at once.  Returns the
    list the interrupts are noted in."""
    import signal
    import stat
    interrupts: List[int] = []
    try:
        if not stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode):
            return interrupts
    except (AttributeError, OSError, ValueError):
        return interrupts

    def on_interrupt(signum, frame):
        interrupts.append(signum)
        if len(interrupts) > 1:
            raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_interrupt)
    return interrupts


def _sort(args: argparse.Namespace) -> int:
    from proctrace.pipeline import sort_recording
    from proctrace.sort import SortStats
    stats = SortStats()
    with _open_input(args.input) as stream, \
            _open_output(args.output, args.input, whole=not args.line_buffered) as out:
        interrupted = _finish_input_on_interrupt(stream)
        for lines in sort_recording(stream, source=_name(args.input), window_ns=args.window, stats=stats):
            _write(out, b"\n".join(lines))
            out.write(b"\n")
            if args.line_buffered:
                out.flush()
        out.flush()
    _report_late(stats, args.window)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _render_options(args: argparse.Namespace):
    from proctrace.render import RenderOptions
    terminal = args.output == "-" and sys.stdout is not None and sys.stdout.isatty()
    width = None
    if terminal:
        import shutil
        width = shutil.get_terminal_size().columns
    return RenderOptions(color=terminal and not os.environ.get("NO_COLOR"), width=width, wide=args.wide,
                         everything=args.all, min_duration_ns=args.min_duration or 0, pid=args.pid)


def _render(args: argparse.Namespace) -> int:
    from proctrace.pipeline import render_recording
    from proctrace.sort import SortStats
    stats = SortStats()
    with _open_input(args.input) as stream, \
            _open_output(args.output, args.input, whole=not args.line_buffered) as out:
        interrupted = _finish_input_on_interrupt(stream)
        for data in render_recording(stream, args.format, source=_name(args.input), window_ns=args.window,
                                     stats=stats, warn=_warn, options=_render_options(args)):
            _write(out, data)
            if args.line_buffered:
                out.flush()
        out.flush()
    _report_late(stats, args.window)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from proctrace.diff import compare
    from proctrace.diff_report import json_report, text_report
    from proctrace.pipeline import read_model
    from proctrace.sort import SortStats
    if args.a == args.b == "-":
        args.subparser.error("only one of A and B can be -, standard input")
    runs = []
    for path in (args.a, args.b):
        stats = SortStats()
        with _open_input(path) as stream:
            runs.append(read_model(stream, source=_name(path), window_ns=args.window, stats=stats,
                                   warn=lambda message, name=_name(path): _warn(f"{name}: {message}")))
        _report_late(stats, args.window)
    found = compare(*runs, key=args.key, min_delta_ns=args.min_delta, min_percent=args.min_percent, warn=_warn)
    names = (_name(args.a), _name(args.b))
    report = json_report(found, names) if args.json else text_report(found, names, wide=args.wide)
    with _open_output(args.output, args.a, args.b, whole=True) as out:
        _write(out, report)
        out.flush()
    return EXIT_OK


def _record(args: argparse.Namespace) -> int:
    from proctrace.record import run_record, script_text
    if args.print_script:
        sys.stdout.write(script_text(adopt=args.pid is not None, end_on_root=not args.follow_orphans))
        sys.stdout.flush()
        return EXIT_OK
    command: List[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if bool(command) == (args.pid is not None):
        args.subparser.error("give either a command after -- or --pid PID")
    with _open_output(args.output) as out:
        return run_record(command=command, pid=args.pid, output=out, output_is_stdout=args.output == "-",
                          bpftrace_path=args.bpftrace_path, debug=args.debug,
                          follow_orphans=args.follow_orphans, stderr=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Run proctrace with `argv` (default: sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["-V"], ["--version"]):
        # answered before argparse is imported: scripts call this to probe for us
        print(f"proctrace {__version__}")
        return EXIT_OK
    parser = build_parser()
    args = parser.parse_args(argv)
    from proctrace.errors import ProctraceError, TracerError
    try:
        return args.func(args)
    except TracerError as err:
        if getattr(args, "debug", False):
            raise
        _say(f"proctrace: error: {err}")
        return EXIT_TRACER
    except ProctraceError as err:
        _say(f"proctrace: error: {err}")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # Nobody reads our output any more (`| head`): end quietly, and stop the
        # flush at interpreter shutdown from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as err:
        output = getattr(args, "output", "-")
        name = err.filename if err.filename is not None else ("<stdout>" if output == "-" else output)
        _say(f"proctrace: error: {name}: {err.strerror or err}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
