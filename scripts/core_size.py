"""Count the core's lines, by part, the way docs/architecture.md reports them.

Two counts per module: every line (``wc -l``), and code only: lines holding a Python
token other than a comment or a docstring (so blank, comment-only and docstring lines
are left out; a multi-line statement counts every line it spans). The limit the project
enforces (``tests/test_core_size.py``) is on code lines, for the reason written in
docs/architecture.md ("The core in numbers").

    python scripts/core_size.py            # a Markdown table by part
    python scripts/core_size.py --json     # the same numbers, per module too
    python scripts/core_size.py --update-docs   # rewrite its numbers in docs/architecture.md
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "genloom"

#: the most code lines the core may hold (issue 19: "a contract core ... at most 5,000 lines")
CODE_LIMIT = 5000

#: the parts of the core, in the order of the issue's list of what the core holds; a
#: module belongs to the first part one of whose prefixes its path starts with
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("interfaces, model and declared capabilities",
     ("interfaces.py", "model.py", "capabilities.py", "errors.py", "__init__.py", "__main__.py")),
    ("hooks, registry and plugin host", ("hookspecs.py", "registry.py", "plugins.py", "builtins.py")),
    ("config and objects from config", ("config.py", "objects.py", "build.py")),
    ("training loop and run files",
     ("training.py", "lightning_module.py", "run_files.py", "optim.py", "ema.py", "progress.py")),
    ("checkpoints, export and bounded reading", ("checkpoints.py", "bounds.py", "atomic.py")),
    ("sampling path, sample kinds, generation records",
     ("sampling.py", "samplers/", "kinds/", "provenance.py")),
    ("data: the datamodule, any dataset, digits and toy2d", ("data/",)),
    ("CLI (train, sample, export, plugins, list, config, env)", ("cli.py", "environment.py")),
    ("old import paths (warn until 0.3)", ("moved.py",)),
]


@dataclass
class Count:
    lines: int = 0
    code: int = 0
    docstring: int = 0
    comment: int = 0
    blank: int = 0

    def add(self, other: Count) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def count_source(source: str) -> Count:
    """Every line of ``source`` sorted into code, docstring, comment or blank."""
    docs = _docstring_lines(ast.parse(source))
    code: set[int] = set()
    comments: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in skip:
            continue
        if tok.type == tokenize.COMMENT:
            comments.add(tok.start[0])
        elif not (tok.type == tokenize.STRING and tok.start[0] in docs):
            code.update(range(tok.start[0], tok.end[0] + 1))
    lines = source.splitlines()
    blank = {i for i, line in enumerate(lines, 1) if not line.strip()}
    docstring = docs - code
    comment = comments - code - docstring
    return Count(len(lines), len(code), len(docstring), len(comment), len(blank - code - docstring))


def part_of(relative: str) -> str:
    for name, prefixes in PARTS:
        if any(relative.startswith(p) for p in prefixes):
            return name
    raise SystemExit(f"core_size.py: {relative} belongs to no part; add it to PARTS")


def measure(core: Path = CORE) -> dict:
    """Counts per module, per part and in total, and the number of modules."""
    modules = {}
    for path in sorted(core.rglob("*.py")):
        modules[path.relative_to(core).as_posix()] = count_source(path.read_text(encoding="utf-8"))
    parts = {name: Count() for name, _ in PARTS}
    total = Count()
    for relative, count in modules.items():
        parts[part_of(relative)].add(count)
        total.add(count)
    return {"modules": {k: asdict(v) for k, v in modules.items()},
            "parts": {k: asdict(v) for k, v in parts.items()},
            "total": asdict(total), "module_count": len(modules), "code_limit": CODE_LIMIT}


def table(numbers: dict) -> str:
    rows = ["| part of `core/genloom` | lines | code | docstring | comment | blank |",
            "|---|---:|---:|---:|---:|---:|"]
    for name, c in [*numbers["parts"].items(), (f"all {numbers['module_count']} modules", numbers["total"])]:
        rows.append(f"| {name} | {c['lines']:,} | {c['code']:,} | {c['docstring']:,} | "
                    f"{c['comment']:,} | {c['blank']:,} |")
    return "\n".join(rows)


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def update_docs(numbers: dict) -> None:
    """Replace the table in docs/architecture.md (its header row to its "all N modules" row)."""
    lines = ARCHITECTURE.read_text(encoding="utf-8").split("\n")
    header = table(numbers).split("\n")[0]
    start = lines.index(header)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("| all "))
    lines[start:end + 1] = table(numbers).split("\n")
    text, total = "\n".join(lines), numbers["total"]
    for pattern, now in (  # the numbers the prose and the summary table quote
        (r"\| [\d,]+ \(\d+ modules\) \| at most",
         f"| {total['lines']:,} ({numbers['module_count']} modules) | at most"),
        (r"\| of them code \| \| [\d,]+ \|", f"| of them code | | {total['code']:,} |"),
        (r'needs\?": [\d,]+ lines', f'needs?": {total["code"]:,} lines'),
        (r"^[\d,]+, over the issue's", f"{total['lines']:,}, over the issue's"),
        (r"[\d,]+ docstring lines \(the public", f"{total['docstring']:,} docstring lines (the public"),
        (r"[\d,]+ blank lines \(PEP", f"{total['blank']:,} blank lines (PEP"),
        (r"and [\d,]+ comments\.", f"and {total['comment']:,} comments."),
    ):
        text = re.sub(pattern, lambda _m, now=now: now, text, flags=re.M)
    ARCHITECTURE.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    numbers = measure()
    if "--update-docs" in argv:
        update_docs(numbers)
    print(json.dumps(numbers, indent=1) if "--json" in argv else table(numbers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
