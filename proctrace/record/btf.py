"""The kernel's BTF type information -> the byte offsets of the few fields proctrace.bt reads.

bpftrace resolves a field such as `curtask->signal` by handing the kernel's
types to clang, and for task_struct that costs it half a second at every
start.  So the script is given plain offsets instead, read here from
/sys/kernel/btf/vmlinux, the same type information bpftrace would have used:

    field_offsets(read_btf())  ->  {"task_struct.tgid": 1268, "task_struct.real_parent": 1280, ...}

A field is found by name, also inside anonymous structs and unions (where
mm_struct keeps arg_start); its size is checked, so a kernel whose layout is
not what the script assumes is refused instead of read wrongly.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from typing import Dict, Iterator, List, Optional, Tuple

from proctrace.events import TracerError

__all__ = ["BTF_PATH", "FIELDS", "REGS_FIELDS", "read_btf", "field_offsets"]

BTF_PATH = "/sys/kernel/btf/vmlinux"

# The fields the script reads: "struct.field" -> its size in bytes (0: an
# array, whose elements are 8 bytes; -1: a flexible array of struct upid).
# The script reads 8-byte fields as 8-byte words and 4-byte ones as 4-byte
# words: each must be aligned to its size (checked).  The tracepoints'
# records are in BTF too: trace_event_raw_* (and, for the syscalls, the
# record every syscall shares) are the layouts of their `args`.
FIELDS = {
    "task_struct.tgid": 4,
    "task_struct.real_parent": 8,
    "task_struct.group_leader": 8,
    "task_struct.signal": 8,
    "task_struct.mm": 8,
    "task_struct.exit_code": 4,
    "signal_struct.live": 4,            # atomic_t: its counter
    "signal_struct.flags": 4,
    "signal_struct.group_exit_code": 4,
    "signal_struct.pids": 0,            # struct pid *pids[PIDTYPE_MAX]
    "pid.numbers": -1,                  # struct upid numbers[]
    "upid.nr": 4,
    "mm_struct.arg_start": 8,
    "mm_struct.arg_end": 8,
    "mm_struct.env_end": 8,
    "trace_event_raw_task_newtask.pid": 4,
    "trace_event_raw_task_newtask.clone_flags": 8,
    "trace_event_raw_sched_process_exec.__data_loc_filename": 4,
    "syscall_trace_enter.args": 0,      # unsigned long args[]
    "syscall_trace_exit.ret": 8,
}

# On x86_64 the script also reads the caller's saved registers (see the
# template's //@if regs); "pt_regs" is the size of the struct.
REGS_FIELDS = {
    "task_struct.stack": 8,
    "pt_regs.ax": 8,
    "pt_regs.di": 8,
    "pt_regs.si": 8,
    "pt_regs.orig_ax": 8,
}

_MAGIC = 0xEB9F
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT = range(1, 12)
_TYPE_TAG, _ENUM64 = 18, 19
# Words (4 bytes) after the 3-word header of each kind, and per vlen entry.
_EXTRA = {1: 1, 3: 3, 14: 1, 17: 1}
_PER_ENTRY = {4: 3, 5: 3, 6: 2, 13: 2, 15: 3, 19: 3}
_QUALIFIERS = (_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG)


class _Types:
    """The type section, indexed lazily: type ids are found by walking it from the start."""

    def __init__(self, data):
        if len(data) < 24:
            raise ValueError("too short")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            struct.unpack_from("<HBBIIIII", data, 0)
        if magic != _MAGIC:
            raise ValueError("not BTF in this machine's byte order")
        start = hdr_len + type_off
        # views, not copies: the file is 5 MB
        self.type_start = start
        self.words = memoryview(data)[start:start + type_len - type_len % 4].cast("I")
        self.data, self.str_start, self.str_end = data, hdr_len + str_off, hdr_len + str_off + str_len
        self.starts: List[int] = [0]   # word index of each type id walked to (id 0 is void)
        self.walked = 0
        fixed, per = [3] * 32, [0] * 32
        for kind, words in _EXTRA.items():
            fixed[kind] += words
        for kind, words in _PER_ENTRY.items():
            per[kind] = words
        self._fixed, self._per = fixed, per

    def at(self, type_id: int) -> int:
        """The word index of a type: the section is walked from the start up to it, once."""
        words, starts, fixed, per = self.words, self.starts, self._fixed, self._per
        i, end = self.walked, len(words)
        while len(starts) <= type_id and i < end:
            starts.append(i)
            info = words[i + 1]
            i += fixed[(info >> 24) & 31] + per[(info >> 24) & 31] * (info & 0xFFFF)
        self.walked = i
        if len(starts) <= type_id:
            raise ValueError(f"no type {type_id}")
        return starts[type_id]

    def header(self, i: int) -> Tuple[int, int, int, int]:
        """(name offset, kind, vlen, size or type) of the type at word index i."""
        info = self.words[i + 1]
        return self.words[i], (info >> 24) & 31, info & 0xFFFF, self.words[i + 2]

    def name(self, offset: int) -> str:
        start = self.str_start + offset
        end = self.data.find(b"\0", start, self.str_end)
        if end < 0:
            raise ValueError(f"string {offset} is not terminated")
        return bytes(self.data[start:end]).decode("utf-8", "replace")

    def named(self, name: str, kind: int) -> int:
        """The word index of the (complete) type of this kind called `name`, found by its bytes.

        Its first word is the name's offset and the last byte of its second
        the kind; no member, parameter or array entry has such a second word
        (type ids are below 2**24), so the section need not be walked to it.
        """
        wanted = self.data.find(b"\0" + name.encode() + b"\0", self.str_start, self.str_end)
        if wanted < 0:
            raise ValueError(f"no type {name}")
        needle = struct.pack("<I", wanted + 1 - self.str_start)
        start, end = self.type_start, self.type_start + 4 * len(self.words)
        at = self.data.find(needle, start, end)
        while at >= 0:
            i, aligned = divmod(at - start, 4)
            if not aligned and i + 1 < len(self.words):
                _, found_kind, vlen, _ = self.header(i)
                info = self.words[i + 1]
                if found_kind == kind and not (info >> 16) & 0xFF and (vlen or kind not in (_STRUCT, _UNION, _ENUM)):
                    return i
            at = self.data.find(needle, at + 1, end)
        raise ValueError(f"no type {name}")

    def enum_value(self, i: int, name: str) -> int:
        for k in range(self.header(i)[2]):
            if self.name(self.words[i + 3 + 2 * k]) == name:
                return self.words[i + 4 + 2 * k]
        raise ValueError(f"no {name} in its enum")

    def members(self, i: int) -> Iterator[Tuple[str, int, int]]:
        """(name, type id, byte offset) of the members of the struct or union at word index i."""
        bitfield_offsets = bool(self.words[i + 1] >> 31)
        for k in range(self.header(i)[2]):
            name_off, member_type, offset = self.words[i + 3 + 3 * k:i + 6 + 3 * k]
            if bitfield_offsets:
                offset &= 0xFFFFFF
            yield (self.name(name_off) if name_off else ""), member_type, offset // 8

    def resolved(self, type_id: int) -> int:
        """The word index of a type, through typedefs and qualifiers."""
        for _ in range(32):
            i = self.at(type_id)
            _, kind, _, size_or_type = self.header(i)
            if kind not in _QUALIFIERS:
                return i
            type_id = size_or_type
        raise ValueError(f"type {type_id} is a loop of typedefs")

    def size(self, type_id: int) -> int:
        """The size in bytes of a type."""
        i = self.resolved(type_id)
        _, kind, _, size_or_type = self.header(i)
        if kind == _PTR:
            return 8 if sys.maxsize > 2**32 else 4
        if kind == _ARRAY:
            element, _index, count = self.words[i + 3:i + 6]
            return self.size(element) * count
        return size_or_type

    def find(self, i: int, field: str) -> Optional[Tuple[int, int]]:
        """(byte offset, type id) of `field` in the struct at word index i, also in anonymous members."""
        for name, member_type, offset in self.members(i):
            if name == field:
                return offset, member_type
            if not name:
                inner = self.resolved(member_type)
                if self.header(inner)[1] in (_STRUCT, _UNION):
                    found = self.find(inner, field)
                    if found is not None:
                        return offset + found[0], found[1]
        return None


def read_btf(path: str = BTF_PATH):
    """The raw BTF of the running kernel (mapped, where the kernel allows it); TracerError when unreadable."""
    try:
        with open(path, "rb") as file:
            try:
                # Linux 6.16+ maps it; read(), 4 KiB at a time from sysfs, takes 20 ms
                return mmap.mmap(file.fileno(), 0, mmap.MAP_PRIVATE, mmap.PROT_READ)
            except (OSError, ValueError):
                return file.read()
    except OSError as err:
        raise TracerError(f"cannot read the kernel's BTF type information ({path}: {err.strerror}): "
                          "proctrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y") from None


def field_offsets(data, *, machine: str = "") -> Dict[str, int]:
    """The byte offset of every field in FIELDS (and, on x86_64, REGS_FIELDS); TracerError when one
    is missing or not as expected.  `machine` is platform.machine()'s answer (read when empty)."""
    if not machine:
        machine = os.uname().machine  # what platform.machine() says, without importing it
    try:
        types = _Types(data)
        offsets = _offsets(types, FIELDS)
        # struct pid *pids[PIDTYPE_MAX]: the script reads the process group's and the session's
        pid_type = types.named("pid_type", _ENUM)
        for name in ("PIDTYPE_PGID", "PIDTYPE_SID"):
            offsets[name] = types.enum_value(pid_type, name)
    except (ValueError, struct.error, IndexError) as err:
        raise TracerError(f"this kernel's BTF type information is not what proctrace expects ({err}): "
                          "please report it with `uname -a`") from None
    if machine == "x86_64":
        try:
            regs = _offsets(types, REGS_FIELDS)
            regs["pt_regs"] = types.header(types.named("pt_regs", _STRUCT))[3]
            offsets.update(regs)
        except (ValueError, struct.error, IndexError):
            pass  # the script then reads the syscalls' records, as elsewhere
    return offsets


def _offsets(types: _Types, fields: Dict[str, int]) -> Dict[str, int]:
    ids: Dict[str, int] = {}
    offsets: Dict[str, int] = {}
    for qualified, size in fields.items():
        struct_name, field = qualified.split(".")
        if struct_name not in ids:
            ids[struct_name] = types.named(struct_name, _STRUCT)
        found = types.find(ids[struct_name], field)
        if found is None:
            raise ValueError(f"struct {struct_name} has no field {field}")
        if size > 0 and types.size(found[1]) != size:
            raise ValueError(f"{qualified} is {types.size(found[1])} bytes, not {size}")
        if found[0] % (size if size > 0 else 8 if size == 0 else 4):
            raise ValueError(f"{qualified} is at offset {found[0]}, not aligned to its size")
        offsets[qualified] = found[0]
    return offsets
