"""Shared pytest set-up: no hypothesis deadlines, the --update-golden option for the golden-file tests, and a
small recording."""

import pytest
from hypothesis import settings

from proctrace.events import Exec, Exit, Fork, to_json

# No property has a per-example deadline: it is a timed assertion, and a run
# stalled for a quarter of a second (a loaded CI runner, a VM's stolen time)
# failed the fast sorter properties as "Unreliable test timings".  Speed is
# measured by the benchmarks.  Tests may still set their own settings on top.
settings.register_profile("proctrace", deadline=None)
settings.load_profile("proctrace")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the expected output of the golden tests (review the diff)")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


@pytest.fixture
def selection_recording(tmp_path):
    """A recording file for --pid and --min-duration: make (pid 2) with a 1 ns leaf (3) and cc (4),
    whose child (5) runs 90 ms."""
    events = [Fork(0, 1, 2, 1), Exec(1, 2, 1, 2, ("make",)), Fork(10, 2, 3, 2), Exit(11, 3, 2, 2, None, 0, None),
              Fork(20, 2, 4, 2), Exec(21, 4, 2, 2, ("cc",)), Fork(30, 4, 5, 4), Exit(90_000_000, 5, 4, 4, None, 0, None),
              Exit(95_000_000, 4, 2, 2, None, 0, None), Exit(99_000_000, 2, 1, 2, None, 0, None)]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(to_json(event) + "\n" for event in events))
    return path
