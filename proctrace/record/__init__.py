"""`proctrace record`: the command's process tree, recorded with bpftrace.

Consumes a command (or a running pid) and produces a recording: JSON lines in
timestamp order, one event each, for example

    {"Fork":{"timestamp":1095830107075,"parent_pid":18750,"child_pid":18881,"parent_pgid":18746}}

The bpftrace program (proctrace.bt, shipped beside this file, filled in by
script.py with what btf.py reads of the kernel) filters the tree in the
kernel; parse.py reads its lines (into events and markers.py's markers), launch.py starts bpftrace, process.py the
command (held until bpftrace is ready), pump.py reads bpftrace until the
tree is done, session.py runs the recording.  Importing this package is cheap: the work is
done only when run_record is called.
"""

from __future__ import annotations

__all__ = ["run_record", "script_text"]


def script_text(*, adopt: bool = False, end_on_root: bool = True) -> str:
    """The bpftrace program that `record` runs as root on this kernel (for --print-script and auditing).

    adopt: for `-p PID`; end_on_root: False with --follow-orphans.
    """
    from proctrace.record.btf import field_offsets, read_btf
    from proctrace.record.script import render_script
    return render_script(field_offsets(read_btf()), adopt=adopt, end_on_root=end_on_root)


def run_record(**options) -> int:
    """Record a command's (or a pid's) process tree; see session.run_record."""
    from proctrace.record.session import run_record as run
    return run(**options)
