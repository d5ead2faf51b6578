"""Build the API reference from the docstrings (``make docs-api``).

Covers what a plugin author may use: ``genloom`` (every name in ``genloom.__all__``),
the hook specifications (``genloom.hookspecs``), the test kit
(``genloom_devkit.testing``, from the genloom-devkit distribution) and the public API
of the in-repo library distributions (:data:`LIBRARIES`, every name in their
``__all__``). Two outputs:

- the full HTML reference, with pdoc, into ``docs/api/`` by default, which git
  ignores (built from the code, never edited or committed);
- ``--index FILE``: a Markdown index, committed as ``docs/reference.md`` so it can be
  read on GitHub: every public name grouped by module, with its signature and the
  first paragraph of its docstring (and the same for a class's public methods).
  ``tests/test_api_docs.py`` regenerates it and fails when the committed file differs,
  and fails when a public name has no docstring.

    .venv/bin/python scripts/api_docs.py                        # HTML into docs/api/
    .venv/bin/python scripts/api_docs.py --index docs/reference.md   # only the index
    .venv/bin/python scripts/api_docs.py --out docs/api --index docs/reference.md  # both (make docs-api)
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

#: The modules of the public API, in the order the reference lists them.
MODULES = ("genloom", "genloom.capabilities", "genloom.hookspecs", "genloom_devkit.testing")
#: library distributions' packages whose ``__all__`` is public API other plugins import
LIBRARIES = ("genloom_diffusion",)


def build(out: Path) -> list[Path]:
    """Render :data:`MODULES` to HTML under ``out``; returns the pages written."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=True)
    pdoc.pdoc(*MODULES, *LIBRARIES, output_directory=out)
    return sorted(out.rglob("*.html"))


INDEX_COMMAND = ".venv/bin/python scripts/api_docs.py --index docs/reference.md"

# reStructuredText in docstrings, as Markdown: ``x`` and :func:`x` become `x`.
_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def public_names() -> dict[str, dict[str, object]]:
    """Every public name, by the module it is used from: ``{module: {name: object}}``."""
    import importlib

    genloom = importlib.import_module("genloom")
    capabilities = importlib.import_module("genloom.capabilities")
    hookspecs = importlib.import_module("genloom.hookspecs")
    testing = importlib.import_module("genloom_devkit.testing")
    names = {
        "genloom": {n: getattr(genloom, n) for n in genloom.__all__ if n != "__version__"},
        "genloom.capabilities": {n: getattr(capabilities, n) for n in capabilities.__all__},
        "genloom.hookspecs": {n: getattr(hookspecs, n) for n in sorted(dir(hookspecs)) if n.startswith("genloom_")},
        "genloom_devkit.testing": {n: getattr(testing, n) for n in testing.__all__},
    }
    for library in LIBRARIES:
        package = importlib.import_module(library)
        names[library] = {n: getattr(package, n) for n in package.__all__ if n != "__version__"}
    return names


def _paragraph(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n", 1)[0]
    text = " ".join(line.strip() for line in first.splitlines())
    return _RST_LITERAL.sub(r"`\1`", _RST_ROLE.sub(r"`\1`", text))


class _Shown(str):
    """An annotation string that ``inspect`` shows without quotes."""

    def __repr__(self) -> str:
        return str(self)


def _signature(obj: object, method: bool = False) -> str:
    """``(args) -> ret`` as written in the source (annotations unquoted, no ``self``)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # a class without a Python __init__, a constant
        return ""
    params = [p.replace(annotation=_Shown(p.annotation)) if isinstance(p.annotation, str) else p
              for p in sig.parameters.values()]
    if method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    ret = sig.return_annotation
    if inspect.isclass(obj):
        ret = inspect.Signature.empty
    elif isinstance(ret, str):
        ret = _Shown(ret)
    text = str(sig.replace(parameters=params, return_annotation=ret))
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return type(obj).__name__


def _foreign(obj: object) -> str | None:
    """The defining module of an object genloom re-exports from another library (whose
    signature and docstring follow that library's version), else None."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    top = module.split(".")[0]
    ours = top == "genloom" or top.startswith("genloom_")  # the core, or a library of ours
    if inspect.isclass(obj) or inspect.isfunction(obj) or not callable(obj):
        return None if ours or not callable(obj) else module
    # pluggy.HookimplMarker, not pluggy._hooks...: private paths move
    return None if ours else f"{top}.{type(obj).__qualname__}"


def _value(obj: object) -> str:
    """A constant, shown by the names of what it holds (for ``CHECKS``, the checks)."""
    if isinstance(obj, (tuple, list)):
        return "Holds: " + ", ".join(f"`{getattr(x, '__name__', repr(x))}`" for x in obj) + "."
    return f"Value: `{obj!r}`."


def _methods(cls: type) -> list[tuple[str, object]]:
    """A class's own public methods and properties (inherited ones are listed where defined)."""
    found = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        fn = member.fget if isinstance(member, property) else member
        if isinstance(fn, (staticmethod, classmethod)):
            fn = fn.__func__
        if inspect.isfunction(fn):
            found.append((name, member if isinstance(member, property) else fn))
    return found


def index() -> str:
    """The Markdown of ``docs/reference.md``: every public name, its signature and the first
    paragraph of its docstring, grouped by module; deterministic, so it can be compared."""
    lines = [
        "# API reference (index)",
        "",
        "<!-- generated by scripts/api_docs.py: do not edit -->",
        "",
        "Generated from the docstrings by `scripts/api_docs.py`; do not edit it by hand.",
        f"Regenerate it with `{INDEX_COMMAND}` (or `make docs-api`, which",
        "also builds the full HTML reference with pdoc into the git-ignored `docs/api/`; open",
        "`docs/api/genloom.html`). `tests/test_api_docs.py` fails when this file is stale or a",
        "public name has no docstring.",
        "",
        "Public means what a plugin may use: `genloom.__all__`, the optional model",
        "capabilities in `genloom.capabilities` (what the core and libraries read from a",
        "model beyond `GenerativeModel`), the hook specifications",
        "in `genloom.hookspecs` (see [hooks.md](hooks.md)), the test kit",
        "`genloom_devkit.testing` (from the genloom-devkit distribution) and the `__all__`",
        "of the library distributions (`genloom_diffusion`: the diffusion family's API,",
        "from `genloom-diffusion`).",
        "Each entry shows the first paragraph of its docstring; the rest is in the HTML",
        "reference and the source.",
    ]
    for module, names in public_names().items():
        lines += ["", f"## `{module}`", ""]
        for name, obj in names.items():
            lines += [f"### `{module}.{name}`", ""]
            if (source := _foreign(obj)) is not None:
                lines += [f"`{name}` is `{source}`, re-exported; see that library's documentation.", ""]
                continue
            if not inspect.isclass(obj) and not callable(obj):
                lines += [f"{_kind(obj)} `{name}`", "", _value(obj), ""]
                continue
            lines += [f"{_kind(obj)} `{name}{_signature(obj)}`", ""]
            if text := _paragraph(obj):
                lines += [text, ""]
            if inspect.isclass(obj):
                for mname, member in _methods(obj):
                    fn = member.fget if isinstance(member, property) else member
                    sig = "" if isinstance(member, property) else _signature(fn, method=True)
                    lines.append(f"- `{mname}{sig}`{' (property)' if isinstance(member, property) else ''}: "
                                 f"{_paragraph(fn)}")
                if _methods(obj):
                    lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="HTML output folder (default: docs/api, unless only --index is given)")
    parser.add_argument("--index", type=Path, help="write the Markdown index here (docs/reference.md)")
    args = parser.parse_args(argv)
    if args.index is not None:
        args.index.write_text(index())
        print(f"wrote {args.index}")
    if args.out is not None or args.index is None:
        out = args.out or Path("docs/api")
        pages = build(out)
        print(f"wrote {len(pages)} pages to {out}/ (open {out / 'genloom.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
