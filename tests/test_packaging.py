"""`pip install .` works offline with the build backend distros ship (setuptools), and the
Debian package (debian/) is at the version `proctrace --version` prints."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proctrace import __version__

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
    from proctrace.render.html import SCRIPTS
    for name in SCRIPTS + ("page.css",):  # the html page's code and style, read with importlib.resources
        assert (target / "proctrace" / "render" / "page" / name).is_file(), name
    entry_points = next(target.glob("proctrace-*.dist-info")) / "entry_points.txt"
    assert "proctrace = proctrace.cli:main" in entry_points.read_text()
    run = subprocess.run([sys.executable, "-m", "proctrace", "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(target)))
    assert run.returncode == 0 and run.stdout.startswith("proctrace ")


def _changelog_version(text):
    # proctrace (0.1.0) unstable; urgency=medium
    return re.match(r"proctrace \(([^)\s]+)\) ", text).group(1)


def test_debian_changelog_is_at_the_version_proctrace_prints():
    assert _changelog_version((ROOT / "debian" / "changelog").read_text()) == __version__


@pytest.mark.parametrize("version", [__version__, __version__ + ".1"])
def test_the_package_build_refuses_a_changelog_at_another_version(version, tmp_path):
    tools = [tool for tool in ("make", "dpkg-parsechangelog") if shutil.which(tool) is None]
    if tools:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tools} missing: .ci/run builds the package (make deb) before the tests")
        pytest.skip(f"needs {tools} (dpkg-dev) to run debian/rules")
    shutil.copytree(ROOT / "debian", tmp_path / "debian")
    shutil.copytree(ROOT / "proctrace", tmp_path / "proctrace", ignore=shutil.ignore_patterns("__pycache__"))
    changelog = tmp_path / "debian" / "changelog"
    text = changelog.read_text()
    changelog.write_text(text.replace(f"({_changelog_version(text)})", f"({version})", 1))
    done = subprocess.run(["make", "-f", "debian/rules", "execute_before_dh_auto_build"],
                          capture_output=True, text=True, cwd=tmp_path)
    if version == __version__:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0
        assert f"debian/changelog says {version} but proctrace/__init__.py says {__version__}" in done.stderr
