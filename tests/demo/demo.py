"""`make demo`: record a small bundled workload and write every render format.

It installs bpftrace with the system's package manager when it is missing and
we are root; otherwise it says exactly what to run.  When recording is not
possible it renders a bundled example recording instead, and says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLE = ROOT / "tests" / "data" / "recordings" / "original_later_format.jsonl"
SUFFIX = {"multiplexed": "jsonl", "by-process": "jsonl", "mermaid": "mmd"}
# formats written under a name of their own
NAMED = {"html": "timeline.html", "perfetto": "trace.json"}


def _say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def _ensure_bpftrace() -> bool:
    if shutil.which("bpftrace"):
        return True
    if os.geteuid() != 0:
        _say("bpftrace is not installed; to record for real, run: sudo apt-get install -y bpftrace "
             "(or your distribution's package), then make demo again")
        return False
    for manager in (["apt-get"], ["dnf"], ["pacman"]):
        if shutil.which(manager[0]):
            break
    else:
        _say("bpftrace is not installed and no known package manager was found; install bpftrace")
        return False
    _say(f"installing bpftrace with {manager[0]}")
    commands = {"apt-get": [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "bpftrace"]],
                "dnf": [["dnf", "install", "-y", "bpftrace"]],
                "pacman": [["pacman", "-S", "--noconfirm", "bpftrace"]]}[manager[0]]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in commands:
        if subprocess.run(command, env=env).returncode != 0:
            _say(f"{' '.join(command)} failed")
            return False
    return bool(shutil.which("bpftrace"))


def _proctrace(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proctrace", *args], cwd=ROOT, **kwargs)


def _record(out: Path) -> bool:
    has_record = (ROOT / "proctrace" / "record" / "__init__.py").exists()
    if not has_record:
        _say("this version cannot record yet")
        return False
    if not _ensure_bpftrace():
        return False
    if os.geteuid() != 0 and not shutil.which("sudo"):
        _say("recording needs root (bpftrace runs as root): run make demo as root or install sudo")
        return False
    _say(f"recording {HERE / 'workload.sh'} -> {out}")
    # relative to the checkout (the working directory), so that the recording does not name where it lives
    done = _proctrace("record", "-o", str(out), "--", "sh", str((HERE / "workload.sh").relative_to(ROOT)))
    if not out.exists() or out.stat().st_size == 0:
        _say(f"recording failed (exit status {done.returncode})")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", help="the folder to write into")
    args = parser.parse_args()
    out_dir = (ROOT / args.out) if not os.path.isabs(args.out) else Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    recording = out_dir / "recording.jsonl"
    if not _record(recording):
        _say(f"rendering the bundled example recording {EXAMPLE.relative_to(ROOT)} instead")
        shutil.copyfile(EXAMPLE, recording)
    for fmt, name in [(fmt, f"{fmt}.{suffix}") for fmt, suffix in SUFFIX.items()] + list(NAMED.items()):
        target = out_dir / name
        done = _proctrace("render", "-f", fmt, "-i", str(recording), "-o", str(target))
        if done.returncode != 0:
            _say(f"render -f {fmt} failed (exit status {done.returncode})")
            return 1
        _say(f"wrote {target}")
    mermaid = (out_dir / "mermaid.mmd").read_text()
    (out_dir / "mermaid.md").write_text("```mermaid\n" + mermaid + "```\n")
    _say(f"done: open {out_dir / 'timeline.html'} in a web browser (it works offline); "
         f"load {out_dir / 'trace.json'} at https://ui.perfetto.dev (Open trace file); "
         f"{out_dir / 'mermaid.md'} shows in any Mermaid-aware viewer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
