"""The API reference: every public name documents itself, the reference builds and its
committed index (``docs/reference.md``) is current.

Public means what a plugin author may use: ``genloom.__all__``, the hook
specifications and ``genloom.testing.__all__``; for classes, their public methods and
properties too (inherited ones are checked where they are defined).
"""

import inspect
import sys

import pytest

import genloom
import genloom.hookspecs
import genloom.testing
from support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import api_docs  # noqa: E402


def _undocumented(owner: str, obj) -> list[str]:
    if not (getattr(obj, "__doc__", None) or "").strip():
        return [owner]
    missing = []
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            fn = member.fget if isinstance(member, property) else member
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            if inspect.isfunction(fn) and not (fn.__doc__ or "").strip():
                missing.append(f"{owner}.{name}")
    return missing


def public_names() -> dict[str, object]:
    names = {f"genloom.{n}": getattr(genloom, n) for n in genloom.__all__ if n != "__version__"}
    names |= {f"genloom.hookspecs.{n}": getattr(genloom.hookspecs, n)
              for n in dir(genloom.hookspecs) if n.startswith("genloom_")}
    names |= {f"genloom.testing.{n}": getattr(genloom.testing, n) for n in genloom.testing.__all__}
    return names


def test_every_public_name_has_a_docstring():
    names = public_names()
    assert len(names) > 40 and "genloom.hookspecs.genloom_register_components" in names
    missing = [m for owner, obj in names.items() if not inspect.ismodule(obj)
               for m in _undocumented(owner, obj)]
    assert missing == []


def test_the_checker_finds_a_missing_docstring():
    class Documented:
        """Has one."""

        def method(self):
            pass

        @property
        def prop(self):
            """Documented."""

    assert _undocumented("X", Documented) == ["X.method"]
    assert _undocumented("f", lambda: None) == ["f"]


@pytest.mark.slow
def test_the_reference_builds_and_lists_every_public_name(tmp_path):
    pages = api_docs.build(tmp_path)
    html = "".join(p.read_text() for p in pages)
    for qualified in public_names():
        assert qualified.rsplit(".", 1)[1] in html, qualified


def test_the_committed_reference_index_is_current():
    """``docs/reference.md`` is generated; a changed signature or docstring must regenerate it."""
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert api_docs.index() == committed, f"docs/reference.md is stale: run {api_docs.INDEX_COMMAND}"


def test_the_reference_index_lists_every_public_name():
    text = api_docs.index()
    missing = [q for q in public_names() if f"### `{q}`" not in text]
    assert missing == []

