"""genloom.moved: old import paths warn and give the new module; a missing library says
what to install (an ImportError or AttributeError, never another error)."""

from __future__ import annotations

import importlib
import sys

import pytest

import genloom
from genloom import moved


def test_old_module_path_is_the_new_module_with_a_warning() -> None:
    sys.modules.pop("genloom.language", None)
    with pytest.warns(DeprecationWarning, match="'genloom.language' moved to 'genloom_text.language'"):
        old = importlib.import_module("genloom.language")
    assert old is importlib.import_module("genloom_text.language")


def test_missing_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(moved.MOVED, "genloom.gone", ("genloom_not_installed.gone", "genloom-gone"))
    with pytest.raises(ModuleNotFoundError, match="pip install genloom-gone") as err:
        importlib.import_module("genloom.gone.sub")
    assert err.value.name == "genloom.gone"  # the parent is imported first
    moved_to = "genloom.Gone moved to genloom_not_installed.Gone .*pip install genloom-gone"
    with pytest.raises(AttributeError, match=moved_to):
        moved.moved_name("Gone", "genloom_not_installed", "genloom-gone")
    monkeypatch.setitem(genloom._DEPRECATED, "Gone", ("genloom_not_installed", "genloom-gone"))
    assert getattr(genloom, "Gone", None) is None  # hasattr-style probes see a missing name


def test_moved_component_names() -> None:
    assert moved.MOVED_COMPONENTS["genloom:bpe"] == "text:bpe"
    assert moved.MOVED_COMPONENTS["genloom:sliced_wasserstein"] == "eval:sliced_wasserstein"
    assert len(moved.MOVED_COMPONENTS) == 25


@pytest.mark.parametrize("old", sorted(moved.MOVED))
def test_every_old_module_path_warns_and_is_the_new_module(old) -> None:
    """Issue 19: the old import paths keep working for one minor version, with a
    DeprecationWarning; each entry of the table, not only genloom.language."""
    new, dist = moved.MOVED[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"'{old}' moved to '{new}' \\(distribution {dist}\\)"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


@pytest.mark.parametrize("name", sorted(genloom._DEPRECATED))
def test_every_old_root_name_warns_and_is_the_new_object(name) -> None:
    new, dist = genloom._DEPRECATED[name]
    with pytest.warns(DeprecationWarning, match=f"genloom.{name} moved to {new}.{name} \\(distribution {dist}\\)"):
        value = getattr(genloom, name)
    assert value is getattr(importlib.import_module(new), name)
