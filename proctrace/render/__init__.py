"""The renderers, registered by name; each module is imported only when asked for.

A renderer module has `render(events, *, warn)` yielding text chunks,
`DESCRIPTION` (for --help), `STREAMING` (False when it must see every
event before it writes anything), `HELPER_SHARE` (how many chunks of a
large file a helper process checks: see parallel.py) and `TAKES_RUNS`
(True when a batch may hold many lines in one bytes object: see sort.Run).
It may also have `prepare_chunk(chunk)`, which reads what it needs of a
chunk of canonical lines where the chunk is read (in the helper, for a large
file), and `unpack_chunk(chunk, prepared)`, which makes the batch of it (see
events.read_prepared_records).
"""

from __future__ import annotations

import importlib

__all__ = ["RENDERERS", "get_renderer"]

RENDERERS = {
    "multiplexed": "proctrace.render.multiplexed",
    "by-process": "proctrace.render.by_process",
    "mermaid": "proctrace.render.mermaid",
}


def get_renderer(name: str):
    """The module that renders format `name` (KeyError for an unknown name)."""
    module = importlib.import_module(RENDERERS[name])
    if not callable(getattr(module, "render", None)):
        raise TypeError(f"{module.__name__} has no render()")
    return module
