"""The devkit's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

Loaded in every pytest run of an environment where genloom-devkit is installed, so it
imports nothing heavy: the fixtures import what they need when used.

Fixtures:

* ``cli``: :func:`genloom_devkit.testing.run_cli`, ``python -m genloom ...`` in a subprocess;
* ``plugin_dir``: a folder on ``sys.path`` (and ``PYTHONPATH`` for subprocesses) for
  throwaway plugins written with :func:`genloom_devkit.testing.make_plugin`;
* ``fresh_plugins``: the process-wide plugin host is rebuilt before and after the
  test, so it sees the plugins installed at that moment;
* ``isolated_plugins``: plugin discovery blocked (``GENLOOM_PLUGINS`` set empty): only
  the core's built-ins load, plus the plugins the test allows with
  ``isolated_plugins.allow("name", ...)``;
* ``tiny_info``: :func:`genloom_devkit.testing.tiny_info`, tiny ``DataInfo`` by kind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from genloom_devkit.testing import helpers


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run ``python -m genloom ARGS`` in a subprocess (see :func:`genloom_devkit.testing.run_cli`)."""
    return helpers.run_cli


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path (and PYTHONPATH for subprocesses) for throwaway plugins."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return root


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Each use sees the plugins installed at that moment (the host is rebuilt)."""
    from genloom.plugins import reset_plugins

    reset_plugins()
    yield
    reset_plugins()


class IsolatedPlugins:
    """The plugin allowlist of an isolated test: only the core, plus what it allows."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.allowed: list[str] = []

    def allow(self, *names: str) -> None:
        """Let the installed plugins ``names`` load too (for this test and its subprocesses)."""
        from genloom.plugins import reset_plugins

        self.allowed += names
        self._monkeypatch.setenv("GENLOOM_PLUGINS", ",".join(self.allowed))
        reset_plugins()

    def host(self) -> Any:
        """The process-wide plugin host as this test sees it."""
        from genloom.plugins import get_plugin_host

        return get_plugin_host()


@pytest.fixture
def isolated_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[IsolatedPlugins]:
    """Block plugin discovery: no installed plugin loads unless the test allows it."""
    from genloom.plugins import reset_plugins

    monkeypatch.setenv("GENLOOM_PLUGINS", "")
    monkeypatch.delenv("GENLOOM_DISABLE_PLUGINS", raising=False)
    reset_plugins()
    yield IsolatedPlugins(monkeypatch)
    reset_plugins()


@pytest.fixture
def tiny_info() -> Callable[..., Any]:
    """``tiny_info(kind="points", **changes)``: a tiny :class:`genloom.DataInfo`."""
    return helpers.tiny_info
