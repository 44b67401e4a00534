"""Shared pytest set-up: the --update-golden option for the golden-file tests."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the expected output of the golden tests (review the diff)")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")
