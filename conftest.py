"""Fixtures for every test in this repository: tests/, plugins/*/tests and
examples/*-plugin/tests alike."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_plugins_everywhere(fresh_plugins):
    """Each test sees the plugins installed at that moment: registrations a test makes
    (a throwaway plugin, a local component) cannot leak into the next one."""
    yield
