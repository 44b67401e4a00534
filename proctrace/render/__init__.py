"""The output formats, registered by name with their kind; a module is imported only when asked for.

A renderer module defines one function, `render(input, *, warn, options)`,
which yields bytes.  What `input` is depends on the format's kind:

- `lines`: batches (lists) of canonical JSON lines (bytes) in timestamp
  order; an item may hold several lines joined by newlines when the
  format writes lines whole (`whole_lines`);
- `tree`: the process model, a model.Recording, built once by the
  pipeline, narrowed to `--pid` and with short leaves hidden
  (`--min-duration`) before the renderer sees it.

`warn(message)` reports something the reader should know (on stderr);
`options` is a RenderOptions.  Everything else (reading, scanning, the
helper process and its share, sorting, the original's legacy lines) is the
pipeline's (see pipeline.py); the tuning it needs per format lives here.

    get_renderer("tree") -> proctrace.render.tree.render
"""

from __future__ import annotations

import importlib

from proctrace.errors import ProctraceError

TYPE_CHECKING = False  # typing costs start-up time: for type checkers only
if TYPE_CHECKING:
    from typing import Callable, Optional, Tuple

__all__ = ["Format", "FORMATS", "RENDERERS", "RenderOptions", "get_renderer", "RegistryError"]


class Format:
    """A format: its module, its kind, what -h says of it, and how the pipeline feeds it.

    `helper_share` = (n, m): n of every m chunks of a large file are scanned
    by the helper process (see parallel.py); the more work the main process
    has per chunk, the more the helper should take.
    """

    __slots__ = ("module", "kind", "description", "helper_share", "whole_lines")

    def __init__(self, module: str, kind: str, description: str, *, helper_share: Tuple[int, int] = (1, 2),
                 whole_lines: bool = False):
        if kind not in ("lines", "tree"):
            raise ValueError(f"unknown renderer kind {kind!r}")
        self.module = module
        self.kind = kind
        self.description = description
        self.helper_share = helper_share
        self.whole_lines = whole_lines


FORMATS = {
    # Measured at 1M events (8 runs each): the helper taking 1 of 2 chunks took 0.91 s, 3 of 5 0.95 s.
    "multiplexed": Format("proctrace.render.multiplexed", "lines",
                          "every event in timestamp order, as JSON lines (the default)",
                          helper_share=(1, 2), whole_lines=True),
    # grouping keeps the main process busy: the helper orders every chunk
    "by-process": Format("proctrace.render.by_process", "lines",
                         "JSON lines grouped by process, a blank line between processes", helper_share=(1, 1)),
    # folding keeps the main process busy: the helper scans 2 of every 3 chunks
    "mermaid": Format("proctrace.render.mermaid", "tree", "a Mermaid gantt chart of the process tree",
                      helper_share=(2, 3)),
    # tree, summary, summary-json: the fold keeps the main process busy, as for mermaid
    "tree": Format("proctrace.render.tree", "tree", "the process tree as indented text, with times and exits",
                   helper_share=(2, 3)),
    "summary": Format("proctrace.render.summary", "tree",
                      "a short report: critical path, slowest processes, failures, what outlived the root",
                      helper_share=(2, 3)),
    "summary-json": Format("proctrace.render.summary_json", "tree", "the summary as one JSON object",
                           helper_share=(2, 3)),
    "html": Format("proctrace.render.html", "tree",
                   "one self-contained HTML page: critical path, concurrency, timeline of every process, tables",
                   helper_share=(2, 3)),
    "perfetto": Format("proctrace.render.perfetto", "tree",
                       "Chrome trace-event JSON for ui.perfetto.dev: a track per process, an arrow per fork",
                       helper_share=(2, 3)),
}
RENDERERS = FORMATS  # the name the command line and the man page tests know


class RegistryError(ProctraceError):
    """A registered format whose module cannot render."""


class RenderOptions:
    """What the command line says about how to draw, for the renderers that care.

    `color`: the output is a terminal that takes colour; `width`: its width
    in columns (None: not a terminal); `wide`: never shorten commands;
    `everything`: draw every process even where the format would leave some
    out to stay readable (mermaid's size limit).
    """

    __slots__ = ("color", "width", "wide", "everything", "min_duration_ns", "pid")

    def __init__(self, *, color: bool = False, width: Optional[int] = None, wide: bool = False,
                 everything: bool = False, min_duration_ns: int = 0, pid: Optional[int] = None):
        self.color = color
        self.width = width
        self.wide = wide
        self.everything = everything
        self.min_duration_ns = min_duration_ns
        self.pid = pid


def get_renderer(name: str) -> Callable:
    """The render function of format `name` (KeyError for an unknown name)."""
    module = importlib.import_module(FORMATS[name].module)
    render = getattr(module, "render", None)
    if not callable(render):
        raise RegistryError(f"format {name!r}: module {module.__name__} defines no render() function")
    return render
