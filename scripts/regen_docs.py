"""Rewrite the docs' shown output from real runs.

Every ``text`` block right after a ``<!-- output: CMD -->`` line (the convention is in
``tests/docs_blocks.py`` and CONTRIBUTING.md) is replaced by what ``CMD`` prints now.
The file's runnable blocks run first, in order, in a scratch folder, exactly as the
docs tests run them (tiny training runs), so a marker that needs a run finds it.
``tests/test_docs.py`` fails when a block differs from a fresh run; this script is
how to bring it back in line.

    .venv/bin/python scripts/regen_docs.py                    # every Markdown file
    .venv/bin/python scripts/regen_docs.py docs/cli.md        # one file
    .venv/bin/python scripts/regen_docs.py --check docs/cli.md  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from docs_blocks import ROOT, doc_files, make_workspace, normalize, run_block, shown, steps  # noqa: E402


def regenerate(path: Path) -> tuple[str, list[str]]:
    """The new text of ``path`` and the locations of the output blocks that changed."""
    replacements: list[tuple[int, int, str]] = []
    changed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = make_workspace(tmp_path)
        for block in steps(path):
            outcome = run_block(block, tmp_path, env)
            if outcome.outputs is None:
                if outcome.returncode != block.expected_status:
                    print(f"{block.where}: exit {outcome.returncode}\n{outcome.output}", file=sys.stderr)
                continue
            new = shown(block, outcome.outputs).replace(str(tmp_path), ".")
            if normalize(new) != normalize(block.text):
                changed.append(block.where)
            replacements.append((block.line, block.end, new))
    lines = path.read_text().split("\n")
    for start, end, new in reversed(replacements):  # 1-based fence lines; keep the fences
        lines[start:end - 1] = new.split("\n")
    return "\n".join(lines), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: all)")
    parser.add_argument("--check", action="store_true", help="report stale blocks, write nothing")
    args = parser.parse_args(argv)
    files = [f.resolve() for f in args.files] or doc_files()
    stale = []
    for path in files:
        text, changed = regenerate(path)
        stale += changed
        if changed and not args.check:
            path.write_text(text)
        for where in changed:
            print(f"{'stale' if args.check else 'rewrote'}: {where}")
    print(f"{len(stale)} output block(s) {'stale' if args.check else 'rewritten'} in {len(files)} file(s)")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
