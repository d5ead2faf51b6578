"""Testing tools for plugin authors, installed with genloom-devkit as a pytest plugin.

``pip install genloom-devkit`` registers :mod:`genloom_devkit.testing.plugin` under pytest's
``pytest11`` entry point, so every test run gets the fixtures ``cli``,
``plugin_dir``, ``fresh_plugins``, ``isolated_plugins`` and ``tiny_info`` with no
conftest. The conformance suite runs one test per check::

    from genloom_devkit.testing import Case, parametrize_with_checks

    @parametrize_with_checks([Case("mymodel", "points", ["model.hidden=16"])])
    def test_conformance(case, check):
        check(case)

A check that cannot hold for a model by design is marked not applicable with its
reason (``Case(..., not_applicable={"check_overfit": "why"})``), shown as a skip.
``genloom.testing`` is the old name of this package: it still imports, with a
DeprecationWarning, until genloom 0.3.

This package loads lazily: importing it (which pytest does in every run) imports
neither torch nor lightning; the checks import torch when they run.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "check_model": "genloom_devkit.testing.checks",
    "synthetic_batch": "genloom_devkit.testing.checks",
    "ExactLogProb": "genloom_devkit.testing.checks",
    "Case": "genloom_devkit.testing.checks",
    "CHECKS": "genloom_devkit.testing.checks",
    "parametrize_with_checks": "genloom_devkit.testing.checks",
    "tiny_info": "genloom_devkit.testing.helpers",
    "make_plugin": "genloom_devkit.testing.helpers",
    "run_cli": "genloom_devkit.testing.helpers",
    "run_cli_in_process": "genloom_devkit.testing.helpers",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom_devkit.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
