"""proctrace.bt, the template, -> the bpftrace program that runs, for this kernel and these options.

The template holds `{{name}}` for numbers (the kernel's field offsets, the
layout's limits), `{{region ...}}` for the loops that copy an argv or a
filename into the maps (sixteen words each, written out here rather than by
hand), and `//@if OPTION` ... `//@endif` around what only one option needs:

    render_script(field_offsets(read_btf()), adopt=False, end_on_root=True)  ->  "BEGIN\n{\n..."

The result is what `proctrace record --print-script` shows.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List

__all__ = ["MAP_ENTRIES", "CHUNK_SWITCH", "CHUNK_WORDS", "CHUNK_BYTES", "ARGV_CHUNKS", "FILENAME_CHUNKS",
           "PACKED_ARGV_WORDS", "PACKED_NAME_WORDS", "SLOTS", "render_script"]

# Must match parse.py (which imports them from here).
SLOTS = 2
# How many entries each map holds (launch.py hands it to bpftrace), and how
# many whole chunks an epoch may hold before the next tick starts a new one.
MAP_ENTRIES = 16384
CHUNK_SWITCH = MAP_ENTRIES // 2
CHUNK_WORDS = 16
CHUNK_BYTES = 8 * CHUNK_WORDS
ARGV_CHUNKS = 1000         # 128000 bytes of argv
FILENAME_CHUNKS = 32       # 4096 bytes: PATH_MAX, with the final NUL
# The Exec's entry has 16 words after the epoch; 5 hold its numbers, and 7
# of the other 11 an argv of at most 32 bytes and a filename of at most 24
# (with its NUL): `/bin/true`, `rm -f conftest.o`, `/usr/bin/sed`.  Each
# word read costs bpftrace ~4 ms more to compile and load at every start
# (11 words: +50 ms), and the start must stay under 0.5 s.
PACKED_ARGV_WORDS = 4
PACKED_NAME_WORDS = 3
_PACKED_ARGV_BYTES = 8 * PACKED_ARGV_WORDS
_PACKED_NAME_BYTES = 8 * PACKED_NAME_WORDS

_PLACEHOLDER = re.compile(r"\{\{([a-z_.]+)\}\}")
_REGS = re.compile(r"^\{\{regs (\d+)\}\}$")
# Where x86_64 keeps a task's user registers: at the top of its kernel stack
# (THREAD_SIZE: 16 KiB, or 32 KiB with KASAN), less TOP_OF_KERNEL_STACK_PADDING
# (16 bytes with FRED, else 0).  Neither is in BTF: each place is tried.
_STACK_SIZES = (16384, 32768)
_STACK_PADDINGS = (0, 16)


def _chunks(start: str, size: str, kind: int, limit: int) -> List[str]:
    """The loop that copies a region of user memory (an argv, a filename) in whole chunks into @c.

    One read each.  The verifier follows the loop round by round (once for
    each slot): ~30 instructions each, 30 to 60 ms for an argv's rounds.
    """
    tab = "\t\t\t"
    return [f"{tab}$i = $z;",
            f"{tab}while ($i < {limit}) {{",
            f"{tab}\tif ($i * {CHUNK_BYTES} + {CHUNK_BYTES} > {size}) {{ break; }}",
            f"{tab}\tif ($ep & 1) {{ @c1[$ts, pid, {kind}, $i, $ep] = *(struct chunk *)uptr({start} + $i * {CHUNK_BYTES}); }}",
            f"{tab}\telse {{ @c0[$ts, pid, {kind}, $i, $ep] = *(struct chunk *)uptr({start} + $i * {CHUNK_BYTES}); }}",
            f"{tab}\t$i++;",
            f"{tab}}}"]


def _masked_words(name: str, start: str, size: str, count: int, tab: str) -> List[str]:
    """Code that sets $NAME0, $NAME1, ... to the `count` words at `start`: those wholly before
    `size` bytes read as they are, the word `size` ends in masked, the rest 0 (the masks
    assume a little-endian CPU).  Nothing past the region leaves the kernel: past an argv
    lies the environment."""
    out = []
    for j in range(count):
        out += [f"{tab}if ({size} > {8 * j}) {{",
                f"{tab}\t${name}{j} = *uptr({start} + {j});",
                f"{tab}\tif ({size} < {8 * j + 8}) {{ ${name}{j} = ${name}{j} & ((1 << (({size} - {8 * j}) * 8)) - 1); }}",
                f"{tab}}}"]
    return out


def _packed() -> List[str]:
    """The Exec's entry, $v, with a short argv and filename in the words its numbers leave free.

    A longer argv or filename leaves them all 0 and goes in chunks instead.
    The words are read here, in the first probe, before the chunk loops:
    after the loops the verifier would follow them once for every round the
    loops may end in.
    """
    tab = "\t\t"
    argv, name = PACKED_ARGV_WORDS, PACKED_NAME_WORDS
    words = [f"$a{j}" for j in range(argv)] + [f"$b{j}" for j in range(name)]
    out = [f"{tab}{word} = $z;" for word in words]
    out += [f"{tab}if ($n <= {_PACKED_ARGV_BYTES} && $fn <= {_PACKED_NAME_BYTES}) {{",
            f"{tab}\t$u = (uint64 *)$s;"]
    out += _masked_words("a", "$u", "$n", argv, tab + "\t")
    out += [f"{tab}\t$u = (uint64 *)$f;"]
    out += _masked_words("b", "$u", "$fn", name, tab + "\t")
    out += [f"{tab}}}",
            f"{tab}$v = ($ep, $ppid, $pg, $sd, $n, $fn, {', '.join(words + ['$z'] * (CHUNK_WORDS - 5 - len(words)))});"]
    return out


def _last_chunks() -> List[str]:
    """The loop that copies the argv's and the filename's last, partial chunks into @m, word by word.

    Masked: nothing past the end leaves the kernel (past an argv lies the
    environment; past the filename the stack's final zero word and then
    nothing: a word read there is 0).  The masks assume a little-endian CPU.
    One loop for both regions, so that bpftrace compiles the copying once,
    in a program of its own: with the whole chunks' reads it would not fit
    in the BPF stack, and after their loops the verifier would follow it
    once for every round they may end in.
    """
    tab = "\t\t"
    out = ["\t$r = $z;",
           "\twhile ($r < 2) {",
           f"{tab}$base = @exec[tid].2;",
           f"{tab}$size = @exec[tid].3;",
           f"{tab}$kind = 3;",
           f"{tab}$limit = {ARGV_CHUNKS};",
           f"{tab}if ($r) {{ $base = @exec[tid].4; $size = @exec[tid].5; $kind = 5; $limit = {FILENAME_CHUNKS}; }}",
           f"{tab}$i = $size / {CHUNK_BYTES};",
           f"{tab}$k = $size - $i * {CHUNK_BYTES};",
           f"{tab}if ($i < $limit && $k > 0) {{",
           f"{tab}\t$u = (uint64 *)($base + $i * {CHUNK_BYTES});"]
    out += [f"{tab}\t$w{j} = $z;" for j in range(CHUNK_WORDS)]
    out += _masked_words("w", "$u", "$k", CHUNK_WORDS, tab + "\t")
    out += [f"{tab}\t$v = ($ep, {', '.join(f'$w{j}' for j in range(CHUNK_WORDS))});",
            f"{tab}\tif ($ep & 1) {{ @m1[$ts, pid, $kind, $i] = $v; }} else {{ @m0[$ts, pid, $kind, $i] = $v; }}",
            f"{tab}}}",
            f"{tab}$r++;",
            "\t}"]
    return out


def _find_regs(syscall: int, values: Dict[str, int]) -> List[str]:
    """The code that sets $regs to the caller's saved registers and $found to whether they are there."""
    base = "*($k64 + ($t + {}) / 8)".format(values["task_struct.stack"])
    orig = "*($k64 + ($regs + {}) / 8)".format(values["pt_regs.orig_ax"])
    size = values["pt_regs"]
    places = [(stack, padding) for stack in _STACK_SIZES for padding in _STACK_PADDINGS]
    out = [f"\t$top = {base};",
           f"\t$regs = $top + {places[0][0] - places[0][1] - size};"]
    for stack, padding in places[1:]:
        out.append(f"\tif ({orig} != {syscall}) {{ $regs = $top + {stack - padding - size}; }}")
    out.append(f"\t$found = {orig} == {syscall};")
    return out


def render_script(offsets: Dict[str, int], *, adopt: bool, end_on_root: bool) -> str:
    """The program for a kernel with these field offsets (see btf.field_offsets) and these options."""
    # beside this file (importlib.resources would cost its import at every start)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "proctrace.bt"), encoding="utf-8") as file:
        template = file.read()
    values = dict(offsets)
    pointer = 8
    values.update({
        "pgid_ptr": offsets["signal_struct.pids"] + pointer * offsets["PIDTYPE_PGID"],
        "sid_ptr": offsets["signal_struct.pids"] + pointer * offsets["PIDTYPE_SID"],
        "upid_nr": offsets["pid.numbers"] + offsets["upid.nr"],
        "chunk_bytes": CHUNK_BYTES, "chunk_switch": CHUNK_SWITCH,
        "argv_chunks": ARGV_CHUNKS, "argv_limit": ARGV_CHUNKS * CHUNK_BYTES, "name_chunks": FILENAME_CHUNKS,
        "packed_argv": _PACKED_ARGV_BYTES, "packed_name": _PACKED_NAME_BYTES,
        "packed_argv_last": 5 + PACKED_ARGV_WORDS, "packed_name_first": 6 + PACKED_ARGV_WORDS,
        "packed_name_last": 5 + PACKED_ARGV_WORDS + PACKED_NAME_WORDS,
    })
    options = {"adopt": adopt, "end_on_root": end_on_root, "regs": "pt_regs.orig_ax" in offsets}
    out: List[str] = []
    keep = [True]       # whether the lines are kept, at each //@if depth
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("//@if "):
            name = stripped[len("//@if "):]
            wanted = not options[name[1:]] if name.startswith("!") else options[name]
            keep.append(keep[-1] and wanted)
            continue
        if stripped == "//@else":
            keep[-1] = keep[-2] and not keep[-1]
            continue
        if stripped == "//@endif":
            keep.pop()
            continue
        if not keep[-1]:
            continue
        if stripped == "{{chunks}}":
            out += _chunks("$s", "$n", 3, ARGV_CHUNKS) + _chunks("$f", "$fn", 5, FILENAME_CHUNKS)
            continue
        if stripped == "{{packed}}":
            out += _packed()
            continue
        if stripped == "{{last_chunks}}":
            out += _last_chunks()
            continue
        regs = _REGS.match(stripped)
        if regs:
            out += _find_regs(int(regs.group(1)), values)
            continue
        out.append(_PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), line))
    if len(keep) != 1:
        raise ValueError("proctrace.bt: an //@if without its //@endif")
    return "\n".join(out) + "\n"
