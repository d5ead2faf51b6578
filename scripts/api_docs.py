"""Build the API reference from the docstrings with pdoc (``make docs-api``).

Covers what a plugin author may use: ``genloom`` (every name in ``genloom.__all__``),
the hook specifications (``genloom.hookspecs``) and the test kit
(``genloom.testing``). The HTML goes to ``docs/api/`` by default, which git ignores:
the reference is built from the code, never edited or committed, so it cannot go
stale. ``tests/test_api_docs.py`` fails when a public name has no docstring.

    .venv/bin/python scripts/api_docs.py --out docs/api
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The modules of the public API, in the order the reference lists them.
MODULES = ("genloom", "genloom.hookspecs", "genloom.testing")


def build(out: Path) -> list[Path]:
    """Render :data:`MODULES` to HTML under ``out``; returns the pages written."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=True)
    pdoc.pdoc(*MODULES, output_directory=out)
    return sorted(out.rglob("*.html"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/api"), help="output folder")
    args = parser.parse_args(argv)
    pages = build(args.out)
    print(f"wrote {len(pages)} pages to {args.out}/ (open {args.out / 'genloom.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
