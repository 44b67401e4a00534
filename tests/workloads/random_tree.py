#!/usr/bin/env python3
"""A random process tree that writes down its own ground truth, for the record tests.

    random_tree.py root OUTDIR SEED      build the tree for SEED, return when all of it is done
    random_tree.py node OUTDIR SPEC ...  (internal) one exec'd node; SPEC is its JSON subtree

Every process of the tree writes OUTDIR/<pid>.json: its pid, ppid, pgid and sid
when it started and when it ended, its argv exactly as /proc/self/cmdline has
it (hex, so non-UTF-8 bytes survive), how it was created, whether it called
setsid or setpgid and how it ends (exit code, or the signal it kills itself
with; its parent adds OUTDIR/<pid>.wait, the status wait() gave).  A recording of the tree can then be checked field by field.

Nodes are created by fork+exec, posix_spawn (vfork-like clone), posix_spawn
from a second thread, or a plain fork without exec; some start threads, some
call setsid() or setpgid(0, 0), some exit non-zero and some die by a signal.
One node is exec'd with 60 tricky arguments and one with about 33 KB of argv.
Standard library only, so it runs under any python3.
"""

import json
import os
import random
import signal
import sys
import threading

SIGNALS = [signal.SIGTERM, signal.SIGKILL, signal.SIGUSR1, signal.SIGHUP]
METHODS = ["exec", "spawn", "thread_spawn", "fork"]
# argv[4:] of the tricky node: spaces, quotes, newlines, shell and separator
# characters, non-ASCII, bytes that are not UTF-8, empty strings, long ones.
TRICKY = [
    b"", b" ", b"two words", b"'single'", b'"double"', b"back\\slash", b"new\nline", b"tab\there",
    b"colon:", b"#hash", b"semi;colon", b"a:b#c;d", b"caf\xc3\xa9", b"\xe6\x97\xa5\xe6\x9c\xac",
    b"\xff\xfe", b"bad\x80utf8", b"\xc3", b"$HOME", b"`id`", b"*", b"--", b"-", b"=",
    b"x" * 1001, b"y" * 4000, b"\\x41", b"%s%n", b"\r", b"{}", b"[]", b"A" * 200, b"B" * 199,
    b"C" * 201, b"", b"end",
]
TRICKY = (TRICKY + [b"arg%d %s" % (i, b"\xce\xbb" * i) for i in range(60)])[:60]


def make_spec(rng: random.Random, depth: int, budget: list) -> dict:
    """A random node: what it does and which children it makes."""
    node = {
        "action": rng.choice(["none", "none", "setsid", "setpgid"]),
        "threads": rng.choice([0, 0, 1, 2]),
        "end": rng.choice([["exit", 0]] * 4 + [["exit", rng.randint(1, 255)], ["signal", int(rng.choice(SIGNALS))]]),
        "children": [],
    }
    if depth < 3:
        for _ in range(rng.randint(2 if depth == 0 else 0, 3)):
            if budget[0] <= 0:
                break
            budget[0] -= 1
            child = make_spec(rng, depth + 1, budget)
            child["method"] = rng.choice(METHODS)
            node["children"].append(child)
    return node


def root_spec(seed: int) -> dict:
    """The tree for `seed`: random, plus nodes that make sure every case is there."""
    rng = random.Random(seed)
    spec = make_spec(rng, 0, [rng.randint(8, 16)])
    spec["children"].append({"action": "setsid", "threads": 2, "end": ["signal", int(signal.SIGKILL)],
                             "children": [], "method": "thread_spawn"})
    spec["children"].append({"action": "setpgid", "threads": 0, "end": ["exit", 9], "children": [],
                             "method": "fork"})
    spec["children"].append({"action": "none", "threads": 0, "end": ["exit", 0], "children": [],
                             "method": "exec", "argv": "tricky"})
    spec["children"].append({"action": "none", "threads": 1, "end": ["exit", 3], "children": [],
                             "method": "spawn", "argv": "big"})
    return spec


def child_argv(outdir: str, spec: dict) -> list:
    argv = [sys.executable.encode(), os.path.abspath(__file__).encode(), b"node", outdir.encode(),
            json.dumps(spec, separators=(",", ":")).encode()]
    if spec.get("argv") == "tricky":
        argv += TRICKY
    elif spec.get("argv") == "big":
        argv += [b"%05d" % i + b"z" * 1000 for i in range(33)]  # about 33 KB more
    return argv


def start_child(outdir: str, spec: dict, how: str) -> int:
    """Create one child by `how`; returns its pid."""
    if how == "fork":
        pid = os.fork()
        if pid == 0:
            try:
                run_node(outdir, spec, "fork")
            finally:
                os._exit(70)  # run_node never returns; this is a safety net
        return pid
    argv = child_argv(outdir, spec)
    if how == "exec":
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(71)
        return pid
    if how == "spawn":
        return os.posix_spawn(argv[0], argv, os.environ)
    # thread_spawn: the clone comes from a thread that is not the leader
    result = []
    thread = threading.Thread(target=lambda: result.append(os.posix_spawn(argv[0], argv, os.environ)))
    thread.start()
    thread.join()
    return result[0]


def run_node(outdir: str, spec: dict, how: str) -> None:
    """Do what `spec` says, write this process's truth, and end as it says (never returns)."""
    with open("/proc/self/cmdline", "rb") as file:
        cmdline = file.read()
    truth = {"pid": os.getpid(), "ppid": os.getppid(), "how": how,
             "start_pgid": os.getpgid(0), "start_sid": os.getsid(0),
             "argv_hex": [arg.hex() for arg in cmdline.split(b"\0")[:-1]],
             "action": spec["action"], "threads": spec["threads"], "end": spec["end"]}
    if spec["action"] == "setsid":
        os.setsid()
    elif spec["action"] == "setpgid":
        os.setpgid(0, 0)
    threads = [threading.Thread(target=lambda: threading.Event().wait(0.01)) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    children = [start_child(outdir, child, child["method"]) for child in spec["children"]]
    for thread in threads:
        thread.join()
    for pid in children:
        _, status = os.waitpid(pid, 0)
        # what the parent saw is the truth about how the child ended
        with open(os.path.join(outdir, "%d.wait" % pid), "w") as file:
            file.write(str(status))
    truth["end_pgid"] = os.getpgid(0)
    truth["end_sid"] = os.getsid(0)
    path = os.path.join(outdir, "%d.json" % os.getpid())
    with open(path + ".tmp", "w") as file:
        json.dump(truth, file)
    os.rename(path + ".tmp", path)
    kind, value = spec["end"]
    if kind == "signal":
        if value not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(value, signal.SIG_DFL)
        os.kill(os.getpid(), value)
        signal.pthread_kill(threading.get_ident(), value)
    os._exit(value if kind == "exit" else 72)


def main(argv: list) -> None:
    if len(argv) >= 4 and argv[1] == "root":
        outdir, seed = argv[2], int(argv[3])
        spec = root_spec(seed)
        spec["end"] = ["exit", 0]
        run_node(outdir, spec, "root")
    elif len(argv) >= 4 and argv[1] == "node":
        run_node(argv[2], json.loads(argv[3]), "exec")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
