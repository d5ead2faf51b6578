"""Testing tools for plugin authors, installed with genloom as a pytest plugin.

``pip install genloom`` registers :mod:`genloom.testing.plugin` under pytest's
``pytest11`` entry point, so every test run gets the fixtures ``cli``,
``plugin_dir``, ``fresh_plugins``, ``isolated_plugins`` and ``tiny_info`` with no
conftest. The conformance suite runs one test per check::

    from genloom.testing import Case, parametrize_with_checks

    @parametrize_with_checks([Case("mymodel", "points", ["model.hidden=16"])])
    def test_conformance(case, check):
        check(case)

This package loads lazily: importing it (which pytest does in every run) imports
neither torch nor lightning; the checks import torch when they run.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "check_model": "genloom.testing.conformance",
    "synthetic_batch": "genloom.testing.conformance",
    "Case": "genloom.testing.checks",
    "CHECKS": "genloom.testing.checks",
    "parametrize_with_checks": "genloom.testing.checks",
    "tiny_info": "genloom.testing.helpers",
    "make_plugin": "genloom.testing.helpers",
    "run_cli": "genloom.testing.helpers",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
