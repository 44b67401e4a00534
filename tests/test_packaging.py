"""`pip install .` works offline with the build backend distros ship (setuptools)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _have(module):
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def test_offline_pip_install_carries_the_package_data_and_the_command(tmp_path):
    missing = [m for m in ("setuptools", "wheel") if not _have(m)]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} missing: .ci/run must install them")
        pytest.skip(f"needs {missing} to build without network")
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-index", "--no-deps",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (target / "proctrace" / "record" / "proctrace.bt").is_file()
    entry_points = next(target.glob("proctrace-*.dist-info")) / "entry_points.txt"
    assert "proctrace = proctrace.cli:main" in entry_points.read_text()
    run = subprocess.run([sys.executable, "-m", "proctrace", "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(target)))
    assert run.returncode == 0 and run.stdout.startswith("proctrace ")
