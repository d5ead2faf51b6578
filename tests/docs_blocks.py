"""Fenced code blocks of the repository's Markdown, for the docs tests and ``scripts/regen_docs.py``.

The convention every Markdown file in the repository follows (CONTRIBUTING.md, "Docs"):

- a block tagged ``bash`` holds shell commands and a block tagged ``python`` holds
  Python; the docs tests run both, in order, in one scratch directory per file;
- a ``bash`` or ``python`` block whose first line is ``# not runnable: <reason>`` is
  exempt (say why: it installs packages, runs for hours, needs a file you provide);
- a block tagged ``text`` (or untagged) is shown output and is never run; one that
  looks like a command instead of output is an error, so nothing escapes the tests by
  omission;
- a ``bash`` block whose first line is ``# exit status: N`` must exit with status
  ``N`` (an example of an error); any other ``bash`` or ``python`` block must succeed;
- a ``text`` block right after the line ``<!-- output: CMD -->`` is the output of
  ``CMD`` (several commands: ``CMD1 ; CMD2``, shown one after the other):
  ``scripts/regen_docs.py`` reruns them and rewrites the block, and the docs tests
  fail when the block and a fresh run differ (numbers that change between runs, such
  as timings, are masked before comparing). If the block starts with ``$ CMD``, each
  command is shown before its output;
- a ``text`` block right after ``<!-- illustrative: <how it was made> -->`` is output
  kept as measured (benchmarks, long runs, timings) and not regenerated; the marker
  also exempts it from the "looks like a command" check, for output lines that
  start with ``genloom``.

Other tags (``yaml``, ``toml``) are file contents shown for reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<tag>[\w-]*)\s*$")
OUTPUT_MARKER = re.compile(r"^<!--\s*output:\s*(?P<cmd>.+?)\s*-->\s*$")
ILLUSTRATIVE = re.compile(r"^<!--\s*illustrative:\s*\S.*-->\s*$")
NOT_RUNNABLE = re.compile(r"^#\s*not runnable:\s*\S")
EXIT_STATUS = re.compile(r"^#\s*exit status:\s*(\d+)\s*$")
# First words of a line that is a command rather than its output.
COMMAND_START = re.compile(r"^\s*(\$ |genloom |pip |make |python3? |\.venv/bin/)")


@dataclass
class Block:
    """One fenced block: where it is, its tag, its text and the output marker above it."""

    path: Path
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    tag: str
    text: str
    output_of: str | None  # CMD of a ``<!-- output: CMD -->`` marker right above
    illustrative: bool = False  # an ``<!-- illustrative: ... -->`` marker right above

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"

    @property
    def runnable(self) -> bool:
        """A ``bash`` or ``python`` block not marked ``# not runnable: <reason>``."""
        if self.tag not in ("bash", "python"):
            return False
        first = self.text.lstrip("\n").split("\n", 1)[0]
        return not NOT_RUNNABLE.match(first)

    @property
    def commands(self) -> list[str]:
        """The commands of the output marker above, in order."""
        return [c.strip() for c in (self.output_of or "").split(" ; ") if c.strip()]

    @property
    def expected_status(self) -> int:
        """0, or N for a block that starts with ``# exit status: N``."""
        m = EXIT_STATUS.match(self.text.lstrip("\n").split("\n", 1)[0])
        return int(m.group(1)) if m else 0

    @property
    def looks_like_command(self) -> bool:
        """An output block whose first line reads like a command someone would type.

        An output block under an output marker may start with ``$ CMD``: that line is
        the marker's command, shown.
        """
        if self.tag not in ("", "text") or self.illustrative:
            return False
        first = self.text.lstrip("\n").split("\n", 1)[0]
        if self.output_of is not None and first.strip() == f"$ {self.commands[0]}":
            return False
        return bool(COMMAND_START.match(first))


def doc_files() -> list[Path]:
    """Every Markdown file the docs tests cover, in a stable order."""
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted(ROOT.glob("plugins/*/README.md"))
    files += sorted(ROOT.glob("examples/*-plugin/README.md"))
    return [f for f in files if f.is_file()]


def parse(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order."""
    lines = path.read_text().split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group("indent"))
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"{path}:{i + 1}: code block never closed")
        body = "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[i + 1:j])
        marker = None
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0 and (mm := OUTPUT_MARKER.match(lines[k].strip())):
            marker = mm.group("cmd")
        illustrative = k >= 0 and bool(ILLUSTRATIVE.match(lines[k].strip()))
        blocks.append(Block(path, i + 1, j + 1, m.group("tag"), body, marker, illustrative))
        i = j + 1
    return blocks


# -- running a file's blocks ----------------------------------------------------------

# What the docs tests append to every ``genloom train`` a ``bash`` block runs, so that a
# command documented for a minute of training takes a second; the ``genloom`` on the
# blocks' PATH is a shim (below) that reads it. Nothing in genloom itself reads it.
TINY_TRAIN = (
    "trainer.max_epochs=1 trainer.limit_train_batches=2 trainer.limit_val_batches=1 "
    "trainer.limit_test_batches=1 sample.n=4"
)
OVERRIDES_ENV = "GENLOOM_DOCS_OVERRIDES"

# Both append each of ${env}'s overrides whose key the command does not set itself, so
# a documented ``trainer.max_epochs=4 --resume`` still resumes to epoch 4 (of 2 batches).
SHIM = '''#!{python}
"""genloom for the docs tests: ``train`` gets ${env}'s overrides for keys it leaves
unset; ``bench`` runs 2 steps of one seed, whatever budget the docs show."""
import os, sys
args = sys.argv[1:]
command = next((a for a in args if not a.startswith("-")), None)
if command == "train":
    given = {{a.split("=", 1)[0] for a in args if "=" in a}}
    args += [o for o in os.environ.get("{env}", "").split() if o.split("=", 1)[0] not in given]
elif command == "bench":  # every family for 2 steps, one seed, 20 samples per metric
    tiny, rest = [], iter(args)
    for a in rest:
        if a in ("--budget", "--steps", "--seeds", "--n"):
            next(rest, None)
        elif not a.startswith(("--budget=", "--steps=", "--seeds=", "--n=")):
            tiny.append(a)
    args = [*tiny, "--steps", "2", "--seeds", "1", "--n", "20"]
os.execv({python!r}, [{python!r}, "-m", "genloom", *args])
'''

# Runs before every ``python`` block: ``load_config`` gets the same tiny overrides.
PRELUDE = '''
import os, genloom
_load = genloom.load_config
def _tiny(path=None, overrides=(), **kw):
    given = {{o.split("=", 1)[0] for o in overrides}}
    tiny = [o for o in os.environ.get("{env}", "").split() if o.split("=", 1)[0] not in given]
    return _load(path, [*overrides, *tiny], **kw)
genloom.load_config = _tiny
'''

# Inputs the commands name by relative path: linked into the scratch folder (read only)
# or copied (folders a documented command may write into, e.g. a plugin's images/).
LINKED = ("core", "tests", "scripts", "pyproject.toml", "Makefile")
COPIED = ("examples", "plugins")
BUILD_LEFTOVERS = ("*.egg-info", "__pycache__", "build", "dist", "runs")


@dataclass
class Outcome:
    """What running one runnable block or output marker gave."""

    block: Block
    returncode: int
    output: str  # stdout and stderr, interleaved as the terminal shows them
    outputs: list[str] | None = None  # an output marker's: one per command


def make_workspace(tmp: Path, python: str | Path | None = None) -> dict[str, str]:
    """Fill ``tmp`` with what the documented commands need; return the environment to run them in.

    ``core/``, ``tests/`` and the like are symlinks (read, never written);
    ``examples/`` and ``plugins/`` are copies and ``docs/`` is a fresh folder of empty
    subfolders, so a command that writes ``docs/music/x.abc`` or a plugin's image
    writes into the scratch folder, never over the repository.

    ``python``: the interpreter of another virtual environment (one where genloom and
    its plugins are pip-installed, not this checkout). Its ``bin/`` is on the blocks'
    ``PATH`` and the shim runs it; nothing of the checkout is put into ``tmp`` and
    ``PYTHONPATH`` is dropped, so the blocks see what a user who pip-installed the
    packages sees. Pass the same ``python`` to :func:`run_block`.
    """
    import os
    import sys

    import shutil

    checkout = python is None
    python = str(python or sys.executable)
    if checkout:
        for name in LINKED:
            (tmp / name).symlink_to(ROOT / name)
        for name in COPIED:
            shutil.copytree(ROOT / name, tmp / name, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
        for sub in [ROOT / "docs", *[p for p in (ROOT / "docs").rglob("*") if p.is_dir()]]:
            (tmp / sub.relative_to(ROOT)).mkdir(parents=True, exist_ok=True)
    # `source .venv/bin/activate` in a block
    (tmp / ".venv").symlink_to(sys.prefix if checkout else Path(python).parent.parent)
    bindir = tmp / ".docs-bin"
    bindir.mkdir()
    shim = bindir / "genloom"
    shim.write_text(SHIM.format(python=python, env=OVERRIDES_ENV))
    shim.chmod(0o755)
    (bindir / "prelude.py").write_text(PRELUDE.format(env=OVERRIDES_ENV))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
    if not checkout:
        env.pop("PYTHONPATH", None)
    venv_bin = str(Path(python).parent)
    env.update(
        PATH=os.pathsep.join([str(bindir), venv_bin, env.get("PATH", "")]),
        OMP_NUM_THREADS="1", COLUMNS="80", NO_COLOR="1", PYTHONHASHSEED="0",
        **{OVERRIDES_ENV: TINY_TRAIN},
    )
    return env


def run_block(block: Block, tmp: Path, env: dict[str, str], timeout: float = 600,
              python: str | Path | None = None) -> Outcome:
    """Run one ``bash``/``python`` block, or the command of an output marker, in ``tmp``.

    A ``python`` block runs with ``python`` (default: this interpreter), as in :func:`make_workspace`.
    """
    import subprocess
    import sys

    if block.output_of is not None and block.tag in ("", "text"):
        outputs = []
        for cmd in block.commands:
            proc = subprocess.run(
                ["bash", "-c", cmd], cwd=tmp, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=timeout,
            )
            outputs.append(proc.stdout)
        return Outcome(block, 0, "", outputs)
    if block.tag == "bash":
        argv = ["bash", "-e", "-c", block.text]
    else:
        prelude = (tmp / ".docs-bin" / "prelude.py").read_text()
        # a block's `from __future__` imports must come first: hoisted above the prelude
        lines = block.text.split("\n")
        future = [line for line in lines if line.startswith("from __future__ import")]
        body = [line for line in lines if not line.startswith("from __future__ import")]
        argv = [str(python or sys.executable), "-c", "\n".join([*future, prelude, *body])]
    proc = subprocess.run(
        argv, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout,
    )
    return Outcome(block, proc.returncode, proc.stdout)


def steps(path: Path) -> list[Block]:
    """The blocks of ``path`` the docs tests execute, in order: runnable ones and output markers."""
    return [b for b in parse(path) if b.runnable or (b.output_of is not None and b.tag in ("", "text"))]


# -- shown output -----------------------------------------------------------------------

# a timing and the padding before it (a right-aligned column widens with the number)
_TIMES = re.compile(r"\s*\d+(?:\.\d+)?(?=\s?(?:ms|s)\b)")


def normalize(text: str, tmp: Path | None = None) -> str:
    """Output with what changes between runs masked: scratch paths, timings, trailing blanks."""
    if tmp is not None:
        text = text.replace(str(tmp), ".")
    text = _TIMES.sub(" N", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def shown(block: Block, outputs: list[str]) -> str:
    """The text an output block should hold for its commands' ``outputs``.

    With each ``$ CMD`` before its output if the block shows its commands.
    """
    with_commands = block.text.lstrip("\n").startswith("$ ")
    parts = []
    for cmd, out in zip(block.commands, outputs):
        if with_commands:
            parts.append(f"$ {cmd}")
        out = "\n".join(line.rstrip() for line in out.strip("\n").split("\n"))
        if out:
            parts.append(out)
    return "\n".join(parts)
