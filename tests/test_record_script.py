"""The bpftrace program of `record`: the field offsets read from BTF, and the template filled in with them."""

import re
import struct

import pytest

from proctrace.events import TracerError
from proctrace.record.btf import FIELDS, REGS_FIELDS, field_offsets
from proctrace.record.parse import ARGV_CHUNKS, CHUNK_BYTES, FILENAME_CHUNKS, SLOTS
from proctrace.record.script import CHUNK_WORDS, render_script

INT, PTR, ARRAY, STRUCT, UNION, ENUM, TYPEDEF = 1, 2, 3, 4, 5, 6, 8


class BTF:
    """A small BTF blob built by hand: the kernel's layout of the fields the script reads, or a variant."""

    def __init__(self):
        self.types = []          # encoded types; id = index + 1
        self.strings = b"\0"

    def _name(self, name):
        if not name:
            return 0
        offset = len(self.strings)
        self.strings += name.encode() + b"\0"
        return offset

    def _add(self, data):
        self.types.append(data)
        return len(self.types)

    def int(self, name, size):
        return self._add(struct.pack("<III", self._name(name), INT << 24, size) + struct.pack("<I", size * 8))

    def ptr(self, target=0):
        return self._add(struct.pack("<III", 0, PTR << 24, target))

    def typedef(self, name, target):
        return self._add(struct.pack("<III", self._name(name), TYPEDEF << 24, target))

    def array(self, element, count, index_type=1):
        return self._add(struct.pack("<III", 0, ARRAY << 24, 0) + struct.pack("<III", element, index_type, count))

    def struct(self, name, size, members, kind=STRUCT, bitfields=False):
        """members: (name, type id, byte offset)"""
        info = (kind << 24) | len(members) | (1 << 31 if bitfields else 0)
        data = struct.pack("<III", self._name(name), info, size)
        for member, type_id, offset in members:
            data += struct.pack("<III", self._name(member), type_id, offset * 8)
        return self._add(data)

    def enum(self, name, values):
        data = struct.pack("<III", self._name(name), (ENUM << 24) | len(values), 4)
        for value_name, value in values:
            data += struct.pack("<Ii", self._name(value_name), value)
        return self._add(data)

    def blob(self):
        types = b"".join(self.types)
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(self.strings))
        return header + types + self.strings


def kernel_like(**changes):
    """A BTF with every field the script reads (offsets as on a 6.x kernel), `changes` applied.

    changes: "struct.field" -> new offset, or None to leave the field out.
    """
    btf = BTF()
    i32 = btf.int("int", 4)                    # id 1, also the arrays' index type
    u32 = btf.int("unsigned int", 4)
    u64 = btf.int("long unsigned int", 8)
    pid_t = btf.typedef("pid_t", i32)
    atomic = btf.struct("atomic_t", 4, [("counter", i32, 0)])
    ptr = btf.ptr()
    unsigned_long_array = btf.array(u64, 0)

    def fields(struct_name, members):
        out = []
        for name, type_id, offset in members:
            key = f"{struct_name}.{name}"
            offset = changes.get(key, offset)
            if offset is not None:
                out.append((name, type_id, offset))
        return out

    btf.struct("task_struct", 3264, fields("task_struct", [
        ("stack", ptr, 32), ("mm", ptr, 1136), ("exit_code", i32, 1164), ("tgid", pid_t, 1268), ("real_parent", ptr, 1280),
        ("group_leader", ptr, 1328), ("signal", ptr, 1848)]), bitfields=True)
    pids = btf.array(ptr, 4)
    btf.struct("signal_struct", 1152, fields("signal_struct", [
        ("live", atomic, 4), ("group_exit_code", i32, 96), ("flags", u32, 116), ("pids", pids, 360)]))
    upid = btf.struct("upid", 16, fields("upid", [("nr", i32, 0), ("ns", ptr, 8)]))
    inner = btf.struct("", 8, [("count", i32, 0)], kind=UNION)
    btf.struct("pid", 144, fields("pid", [("", inner, 0), ("numbers", btf.array(upid, 0), 144)]))
    anonymous = btf.struct("", 1472, fields("mm_struct", [
        ("arg_start", u64, 488), ("arg_end", u64, 496), ("env_start", u64, 504), ("env_end", u64, 512)]))
    btf.struct("mm_struct", 1472, [("", anonymous, 0)])
    entry = btf.struct("trace_entry", 8, [("type", btf.int("short unsigned int", 2), 0)])
    btf.struct("trace_event_raw_task_newtask", 48, fields("trace_event_raw_task_newtask", [
        ("ent", entry, 0), ("pid", pid_t, 8), ("clone_flags", u64, 32)]))
    btf.struct("trace_event_raw_sched_process_exec", 24, fields("trace_event_raw_sched_process_exec", [
        ("ent", entry, 0), ("__data_loc_filename", u32, 8), ("pid", pid_t, 12)]))
    btf.struct("syscall_trace_enter", 16, fields("syscall_trace_enter", [
        ("ent", entry, 0), ("nr", i32, 8), ("args", unsigned_long_array, 16)]))
    btf.struct("syscall_trace_exit", 24, fields("syscall_trace_exit", [
        ("ent", entry, 0), ("nr", i32, 8), ("ret", btf.int("long int", 8), 16)]))
    btf.struct("pt_regs", 168, fields("pt_regs", [
        ("ax", u64, 80), ("si", u64, 104), ("di", u64, 112), ("orig_ax", u64, 120), ("ss", u64, 160)]))
    btf.enum("pid_type", [("PIDTYPE_PID", 0), ("PIDTYPE_TGID", 1), ("PIDTYPE_PGID", 2), ("PIDTYPE_SID", 3)])
    return btf.blob()


EXPECTED = {
    "task_struct.tgid": 1268, "task_struct.real_parent": 1280, "task_struct.group_leader": 1328,
    "task_struct.signal": 1848, "task_struct.mm": 1136, "task_struct.exit_code": 1164,
    "signal_struct.live": 4, "signal_struct.flags": 116, "signal_struct.group_exit_code": 96,
    "signal_struct.pids": 360, "pid.numbers": 144, "upid.nr": 0,
    "mm_struct.arg_start": 488, "mm_struct.arg_end": 496, "mm_struct.env_end": 512,
    "trace_event_raw_task_newtask.pid": 8, "trace_event_raw_task_newtask.clone_flags": 32,
    "trace_event_raw_sched_process_exec.__data_loc_filename": 8,
    "syscall_trace_enter.args": 16, "syscall_trace_exit.ret": 16,
    "PIDTYPE_PGID": 2, "PIDTYPE_SID": 3,
}


REGS = {"task_struct.stack": 32, "pt_regs.ax": 80, "pt_regs.si": 104, "pt_regs.di": 112, "pt_regs.orig_ax": 120,
        "pt_regs": 168}


def test_offsets_are_read_through_typedefs_and_anonymous_members():
    assert set(EXPECTED) == set(FIELDS) | {"PIDTYPE_PGID", "PIDTYPE_SID"}
    assert field_offsets(kernel_like(), machine="aarch64") == EXPECTED


def test_on_x86_64_the_saved_registers_are_read_too_when_they_can_be():
    assert set(REGS) == set(REGS_FIELDS) | {"pt_regs"}
    assert field_offsets(kernel_like(), machine="x86_64") == dict(EXPECTED, **REGS)
    assert field_offsets(kernel_like(**{"pt_regs.orig_ax": None}), machine="x86_64") == EXPECTED


def test_offsets_follow_the_kernel():
    offsets = field_offsets(kernel_like(**{"task_struct.tgid": 2000, "mm_struct.arg_end": 8}), machine="aarch64")
    assert (offsets["task_struct.tgid"], offsets["mm_struct.arg_end"]) == (2000, 8)


@pytest.mark.parametrize("changes, reason", [
    ({"task_struct.signal": None}, "struct task_struct has no field signal"),
    ({"upid.nr": 2}, "upid.nr is at offset 2, not aligned to its size"),
    ({"mm_struct.env_end": 516}, "mm_struct.env_end is at offset 516, not aligned to its size"),
])
def test_a_layout_the_script_cannot_read_is_refused(changes, reason):
    with pytest.raises(TracerError, match=re.escape(reason)):
        field_offsets(kernel_like(**changes), machine="aarch64")


def test_a_field_of_another_size_is_refused():
    blob = kernel_like()
    # make "int" (id 1) 8 bytes: tgid (a pid_t, an int) no longer fits a 4-byte read
    header = 24
    size_at = header + 8
    assert struct.unpack_from("<I", blob, size_at)[0] == 4
    blob = blob[:size_at] + struct.pack("<I", 8) + blob[size_at + 4:]
    with pytest.raises(TracerError, match=r"task_struct.tgid is 8 bytes, not 4"):
        field_offsets(blob)


@pytest.mark.parametrize("blob", [b"", b"\x00" * 64, kernel_like()[:40]])
def test_what_is_not_btf_is_refused(blob):
    with pytest.raises(TracerError, match="BTF type information is not what proctrace expects"):
        field_offsets(blob)


def test_the_template_is_filled_in_whole():
    script = render_script(EXPECTED, adopt=False, end_on_root=True)
    assert not re.search(r"\{\{[a-z_.]+\}\}|^//@", script, re.M)
    assert f"while ($i < {ARGV_CHUNKS})" in script and f"while ($i < {FILENAME_CHUNKS})" in script
    assert f"struct chunk {{ unsigned long w[{CHUNK_WORDS}]; }}" in script
    assert script.count(f"$i * {CHUNK_BYTES} + {CHUNK_BYTES} >") == 2
    assert "*($k64 + ($t + 1848) / 8)" in script          # task_struct.signal
    assert "(uint64)args + 8) >> 16" in script             # the filename's length
    assert f"@m{SLOTS - 1}[" in script and f"@m{SLOTS}[" not in script and f"@c{SLOTS}[" not in script
    assert f"{ARGV_CHUNKS * CHUNK_BYTES} bytes" in script


def test_the_options_keep_only_their_code():
    plain = render_script(EXPECTED, adopt=False, end_on_root=True)
    adopting = render_script(EXPECTED, adopt=True, end_on_root=True)
    following = render_script(EXPECTED, adopt=False, end_on_root=False)
    assert "unroll(12)" not in plain and adopting.count("unroll(12)") == 3
    assert "PT_FINAL" in plain and "pid == $1" in plain
    assert "PT_FINAL %llu" not in following and "pid == $1" not in following


def probes(script):
    return re.findall(r"^(tracepoint:\S+|interval:\S+|BEGIN|END)$", script, re.M)


def test_with_the_saved_registers_setpgid_needs_no_probe_at_its_entry():
    # issue 14: one tracepoint less to detach at every end, and no `args` for bpftrace to look up
    with_regs = render_script(dict(EXPECTED, **REGS), adopt=False, end_on_root=True)
    without = render_script(EXPECTED, adopt=False, end_on_root=True)
    assert "tracepoint:syscalls:sys_enter_setpgid" in probes(without)
    assert [p for p in probes(without) if p != "tracepoint:syscalls:sys_enter_setpgid"] == probes(with_regs)
    assert "$top = *($k64 + ($t + 32) / 8);" in with_regs and "args" not in with_regs.split("sys_exit_setsid")[-1]
    # the four places the registers may be, each checked against the syscall's number
    assert with_regs.count("$regs = $top + ") == 2 * 4
    assert "if (*($k64 + ($regs + 120) / 8) != 109) { $regs = $top + 32584; }" in with_regs
    assert "pgid_target" not in with_regs and "pgid_target" in without


def test_bpftrace_is_handed_btf_that_is_valid_and_holds_no_types():
    # bpftrace loads BPFTRACE_BTF instead of the kernel's 5 MB: it must be
    # well-formed BTF (or bpftrace refuses it) and hold nothing to look up.
    from proctrace.record.launch import NO_TYPES_BTF, tracer_env

    assert tracer_env()["BPFTRACE_BTF"] == NO_TYPES_BTF
    with open(NO_TYPES_BTF, "rb") as file:
        data = file.read()
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
    assert (magic, version, flags, hdr_len) == (0xEB9F, 1, 0, 24)
    assert (type_off, type_len) == (0, 0)
    assert (str_off, str_len) == (0, 1) and data[hdr_len:] == b"\0"
    with pytest.raises(TracerError):
        field_offsets(data, machine="x86_64")  # no type to find in it
