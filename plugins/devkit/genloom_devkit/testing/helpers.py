"""Plain helpers behind the fixtures: a CLI runner, throwaway plugins, tiny data shapes.

Usable without pytest (a script, a notebook) and importable without torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

#: tiny data descriptions for tests: shapes every in-repo model accepts at small sizes
TINY = {
    "points": {"kind": "points", "shape": (2,)},
    "image": {"kind": "image", "shape": (1, 8, 8), "num_classes": 10},
    "tokens": {"kind": "tokens", "shape": (16,), "vocab_size": 12},
}


def tiny_info(kind: str = "points", **changes: Any) -> Any:
    """A :class:`genloom.DataInfo` for tiny tests: ``points`` (2-D), ``image`` (1x8x8, 10
    classes) or ``tokens`` (length 16, 12 ids); ``changes`` override its fields."""
    from genloom.data.info import DataInfo

    if kind not in TINY:
        raise ValueError(f"unknown tiny data kind {kind!r}; use one of {', '.join(TINY)}")
    return DataInfo(**{**TINY[kind], **changes})


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m genloom ARGS`` in a fresh interpreter; return the CompletedProcess.

    A subprocess, not click's in-process runner: the CLI's exit codes, stderr lines and
    import costs are exactly what a user sees. ``GENLOOM_RUN_DIR`` is dropped so a
    launcher's setting cannot leak into the test.
    """
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GENLOOM_RUN_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "genloom", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


def make_plugin(
    root: Path, name: str, source: str, *, requires: str = "genloom", module: str | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write an installed-looking distribution ``name`` into ``root`` (which must be on
    ``sys.path``, e.g. the ``plugin_dir`` fixture).

    It has a dist-info folder with METADATA (``Requires-Dist: requires``) and an entry
    point ``name`` in the ``genloom`` group pointing at module ``module`` (default
    ``gltest_<name>``) whose code is ``source`` (dedented). No pip, no build: a plugin
    in milliseconds, gone with the folder.
    """
    module = module or f"gltest_{name.replace('-', '_')}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: {requires}\n"
    )
    (info / "entry_points.txt").write_text(f"[genloom]\n{name} = {module}\n")
    return root
