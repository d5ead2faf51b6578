"""The API reference: every public name documents itself, the reference builds, its
committed index (``docs/reference.md``) is current, and the hand-written docs name no
API that does not exist.

Public means what a plugin author may use: ``genloom.__all__``, the hook
specifications and ``genloom_devkit.testing.__all__``; for classes, their public methods and
properties too (inherited ones are checked where they are defined).
"""

import importlib
import inspect
import re
import subprocess
import sys

import pytest

from support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import api_docs  # noqa: E402


def _undocumented(owner: str, obj) -> list[str]:
    """``owner`` if it has no docstring, and each public method or property of a class that
    has none. Constants (``CHECKS``) are not checked: a tuple's ``__doc__`` is the tuple
    type's; the index shows what they hold instead."""
    if not (inspect.isclass(obj) or callable(obj)):
        return []
    if not (getattr(obj, "__doc__", None) or "").strip():
        return [owner]
    missing = []
    if inspect.isclass(obj):
        for name, member in api_docs._methods(obj):
            fn = member.fget if isinstance(member, property) else member
            if not (fn.__doc__ or "").strip():
                missing.append(f"{owner}.{name}")
    return missing


def public_names() -> dict[str, object]:
    """``{"genloom_devkit.testing.cli": obj, ...}``: the names the reference lists."""
    return {f"{module}.{name}": obj for module, names in api_docs.public_names().items()
            for name, obj in names.items()}


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
    # in its own interpreter: pdoc resolves the string annotations of the modules it
    # renders in place, which would change the signatures the index tests read after it
    subprocess.run([sys.executable, str(ROOT / "scripts" / "api_docs.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, cwd=ROOT)
    html = "".join(p.read_text() for p in sorted(tmp_path.rglob("*.html")))
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


# -- API names the hand-written docs mention --------------------------------------------

SPAN = re.compile(r"`([^`\n]+)`")
# genloom.x.y, not inside a path (core/genloom/...) or a longer dotted name
API_NAME = re.compile(r"(?<![\w/.-])genloom(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = {"json", "yaml", "yml", "toml", "txt", "csv", "md", "py", "png", "ckpt", "safetensors"}


def _resolves(name: str) -> bool:
    """``name`` imports, or is an old path the docs name as deprecated: a module in
    ``genloom.moved.MOVED`` or a root name in ``genloom._DEPRECATED``, checked at its
    new place (without importing the old path, which would warn)."""
    import genloom
    from genloom.moved import _target

    moved = _target(name) if "." in name else None
    root = name.split(".")[1] if name.count(".") == 1 else None
    if moved is not None:
        name = moved[0]
    elif root in getattr(genloom, "_DEPRECATED", {}):
        name = f"{genloom._DEPRECATED[root][0]}.{root}"
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        break
    for attr in parts[i:]:
        if not hasattr(obj, attr):
            return False
        obj = getattr(obj, attr)
    return True


def unresolved_api_names(text: str, where: str = "") -> list[str]:
    """``where:line: name`` for each ``genloom.x`` in an inline code span of the Markdown
    ``text`` that is neither an importable module nor an attribute of one (fenced blocks
    are skipped: the docs tests run them; names ending in a file suffix, ``genloom.json``,
    are files)."""
    stale, fenced = [], False
    for n, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for span in SPAN.finditer(line):
            for name in API_NAME.findall(span.group(1)):
                if name.rsplit(".", 1)[1] not in FILE_SUFFIXES and not _resolves(name):
                    stale.append(f"{where}:{n}: {name}")
    return stale


def _hand_written_docs() -> list:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md")),
            *sorted(ROOT.glob("plugins/*/README.md")), *sorted(ROOT.glob("examples/*-plugin/README.md"))]


def test_every_api_name_the_docs_mention_exists():
    stale = [s for f in _hand_written_docs()
             for s in unresolved_api_names(f.read_text(), str(f.relative_to(ROOT)))]
    assert stale == []


def test_the_api_name_checker_finds_a_stale_name():
    text = (
        "Call `genloom.load_config(path)` then `genloom.trian(cfg)`; hooks such as\n"
        "`genloom.hookspecs.genloom_register_components` and `genloom.hookspecs.genloom_gone`,\n"
        "`from genloom_devkit.testing import make_plugin` and `genloom.interfaces.no_such_helper`,\n"
        "the module `genloom.no_such_module.x`; not names: `core/genloom/model.py`,\n"
        "`genloom.json`, `genloom_gan.plugin`.\n"
        "```python\ngenloom.not_checked_here\n```\n"
    )
    assert unresolved_api_names(text, "x.md") == [
        "x.md:1: genloom.trian", "x.md:2: genloom.hookspecs.genloom_gone",
        "x.md:3: genloom.interfaces.no_such_helper", "x.md:4: genloom.no_such_module.x",
    ]
