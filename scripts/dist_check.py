"""Build every distribution of the repository and check what a package index would get.

For the core, each in-repo plugin and each example plugin: ``python -m build`` (sdist
and wheel, from a copy of the source so nothing is written into the checkout), then
``twine check`` (metadata and README render), then what twine does not check: the
wheel carries the LICENSE, a plugin's wheel declares its ``[genloom]`` entry point and
ships the example configs it registers and the weights files beside its code, and the
README (the index page) holds no relative links or images, which would be broken there.

    .venv/bin/python scripts/dist_check.py                 # all of them (make dist-check)
    .venv/bin/python scripts/dist_check.py plugins/vae     # one

Builds run without isolation (``--no-isolation``): the build requirements
(setuptools, build, twine: the ``dev`` extra) come from the running environment, so
the check needs no network. Exit status 1 and one line per problem on failure.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns("*.egg-info", "__pycache__", "build", "dist", "runs", ".venv", ".git")
RELATIVE_LINK = re.compile(r"!?\[[^\]]*\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


def distributions() -> list[Path]:
    """The core, then every in-repo plugin, then every example plugin."""
    return [ROOT, *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml")),
            *sorted(p.parent for p in ROOT.glob("examples/*-plugin/pyproject.toml"))]


def _copy_source(src: Path, dst: Path) -> None:
    if src == ROOT:  # the core: only what its build reads
        dst.mkdir(parents=True)
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy2(src / name, dst / name)
        shutil.copytree(src / "core", dst / "core", ignore=SKIP)
    else:
        shutil.copytree(src, dst, ignore=SKIP)


def _name(src: Path) -> str:
    return "genloom" if src == ROOT else str(src.relative_to(ROOT) if src.is_relative_to(ROOT) else src)


def build(src: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """``python -m build`` of a copy of ``src`` (in ``work/src``): the sdist, then the wheel
    built from that sdist (as a package index gets them), into ``work/dist``."""
    tree, dist = work / "src", work / "dist"
    _copy_source(src, tree)
    return subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(tree)],
        capture_output=True, text=True,
    )


def build_wheel(src: Path, work: Path) -> Path:
    """The wheel of ``src``, built as :func:`build` does; ``RuntimeError`` when the build fails.

    For tests that install what a user would get (``tests/test_installed_readmes.py``).
    """
    built = build(src, work)
    if built.returncode != 0:
        raise RuntimeError(f"{_name(src)}: python -m build failed:\n{(built.stderr or built.stdout)[-3000:]}")
    return next((work / "dist").glob("*.whl"))


def check(src: Path, work: Path) -> list[str]:
    """Problems of one distribution, as one-line messages (empty when it is fine)."""
    name = _name(src)
    dist = work / "dist"
    built = build(src, work)
    if built.returncode != 0:
        return [f"{name}: python -m build failed: {(built.stderr or built.stdout).strip().splitlines()[-1]}"]
    problems = []
    if "!!" in built.stdout + built.stderr:  # setuptools' deprecation banners
        problems.append(f"{name}: the build printed setuptools warnings; run python -m build {name}")
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True, text=True,
    )
    if twine.returncode != 0:
        problems.append(f"{name}: twine check failed: {twine.stdout.strip().splitlines()[-1]}")
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
        if not any(f.endswith("/LICENSE") for f in files if ".dist-info/" in f):
            problems.append(f"{name}: the wheel has no LICENSE")
        if src != ROOT:
            entry = next((f for f in files if f.endswith(".dist-info/entry_points.txt")), None)
            if entry is None or "[genloom]" not in zf.read(entry).decode():
                problems.append(f"{name}: the wheel declares no [genloom] entry point")
        for config in sorted((src).glob("genloom_*/configs/*.yaml")):
            if str(config.relative_to(src)) not in files:
                problems.append(f"{name}: the wheel lacks the example config {config.relative_to(src)}")
        for weights in sorted(src.glob("genloom_*/**/*.safetensors")):  # shipped weights
            if str(weights.relative_to(src)) not in files:
                problems.append(f"{name}: the wheel lacks the weights file {weights.relative_to(src)}")
    for link in RELATIVE_LINK.findall((src / "README.md").read_text()):
        problems.append(f"{name}: README.md links to '{link}', which breaks on a package index; use an absolute URL")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dists", nargs="*", type=Path, help="distribution folders (default: all)")
    args = parser.parse_args(argv)
    dists = [d.resolve() for d in args.dists] or distributions()
    problems = []
    for src in dists:
        with tempfile.TemporaryDirectory() as tmp:
            found = check(src, Path(tmp))
        problems += found
        print(f"{'ok' if not found else 'FAILED':<7} {'genloom (core)' if src == ROOT else src}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
