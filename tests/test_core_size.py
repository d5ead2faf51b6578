"""The core stays small and layered: what docs/architecture.md ("The core in numbers") says, checked.

- at most ``CODE_LIMIT`` code lines (``scripts/core_size.py`` counts them), and the table
  architecture.md shows is the one the script prints for the code as it stands;
- the process-wide plugin host is reached only through ``genloom.plugins``' functions,
  inside functions (never at import), from the modules architecture.md names.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "genloom"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

_spec = importlib.util.spec_from_file_location("core_size", ROOT / "scripts" / "core_size.py")
core_size = importlib.util.module_from_spec(_spec)
sys.modules["core_size"] = core_size  # dataclasses look their module up
_spec.loader.exec_module(core_size)


def test_the_counter_sorts_every_line():
    source = (
        '"""Module docstring\n\nover three lines."""\n'
        "\n"
        "# a comment\n"
        "X = '''a string that is code,\n"
        "not a docstring'''\n"
        "\n"
        "def f(a,\n"
        "      b):  # trailing comment: a code line\n"
        '    """Doc."""\n'
        "    return a\n"
    )
    c = core_size.count_source(source)
    assert (c.lines, c.code, c.docstring, c.comment, c.blank) == (12, 5, 4, 1, 2)


def test_the_core_holds_at_most_5000_code_lines():
    numbers = core_size.measure()
    code = numbers["total"]["code"]
    assert code <= core_size.CODE_LIMIT, (
        f"core/genloom has {code:,} code lines, over the limit of {core_size.CODE_LIMIT:,}: move what "
        "not every plugin needs into a library distribution (docs/architecture.md)")


def test_architecture_md_shows_the_numbers_of_the_code_as_it_stands():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    numbers = core_size.measure()
    table = core_size.table(numbers)
    total = numbers["total"]
    for quoted in (f"| {total['lines']:,} ({numbers['module_count']} modules) | at most",
                   f"| of them code | | {total['code']:,} |", f"needs?\": {total['code']:,} lines"):
        assert quoted in text, f"docs/architecture.md should say {quoted!r}: the numbers of the code as it stands"
    assert table in text, (
        "docs/architecture.md's table in 'The core in numbers' is stale: run "
        "`python scripts/core_size.py --update-docs` (and update the numbers the text quotes)\n" + table)


def test_every_core_module_has_its_place_in_the_layers_table():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index("## Layers")
    layers = text[start:text.index("\n## ", start + 1)]
    unplaced = [rel for rel in (p.relative_to(CORE).as_posix() for p in sorted(CORE.rglob("*.py")))
                if rel != "__init__.py" and f"`{rel}`" not in layers
                and not ("/" in rel and f"`{rel.split('/')[0]}/`" in layers)]
    assert unplaced == [], f"docs/architecture.md's Layers table does not say where {unplaced} belong"


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


HOST_FUNCTIONS = {"get_plugin_host", "get_registry"}


def _host_calls(tree: ast.Module) -> tuple[int, list[int]]:
    """(calls inside functions, line numbers of calls at import time) of the host functions."""
    inside: list[int] = []
    at_import: list[int] = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            fn = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Call):
                callee = child.func
                called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
                if called in HOST_FUNCTIONS:
                    if in_function:
                        inside.append(child.lineno)
                    else:
                        at_import.append(child.lineno)
            visit(child, fn)

    visit(tree, False)
    return len(inside), at_import


def test_the_plugin_host_is_reached_only_inside_functions_of_the_modules_the_docs_name():
    reaching, at_import = set(), []
    for path in sorted(CORE.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside, lines = _host_calls(tree)
        at_import += [f"{name}:{line}" for line in lines]
        if inside and name not in ("genloom.plugins", "genloom.cli"):
            reaching.add(name.removeprefix("genloom."))
        if name != "genloom.plugins":  # no second process-wide host: a PluginHost built at import time
            assert not [n for n in tree.body if "PluginHost(" in ast.unparse(n)
                        and not isinstance(n, (ast.FunctionDef, ast.ClassDef))], name
    assert at_import == []
    text = ARCHITECTURE.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| modules below the CLI that reach"))
    named = set(re.findall(r"`(\w+)`", row.split("|")[3].split(":", 1)[1]))  # the list after the colon
    assert named == reaching, f"architecture.md names {sorted(named)}, the code reaches the host from {sorted(reaching)}"
