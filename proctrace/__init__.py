"""proctrace: record and render the process tree of a command."""

__version__ = "0.1.0"
