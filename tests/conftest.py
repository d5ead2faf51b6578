"""Shared fixtures: running the CLI in a subprocess and making throwaway plugins."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run ``python -m genloom ARGS`` and return the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GENLOOM_RUN_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "genloom", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


def make_plugin(
    root: Path, name: str, source: str, *, requires: str = "genloom", module: str | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write an installed-looking distribution ``name`` into ``root`` (put it on sys.path).

    It has a dist-info folder with METADATA and an entry point ``name`` in the
    ``genloom`` group pointing at module ``module`` whose code is ``source``.
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


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on sys.path (and PYTHONPATH for subprocesses) for throwaway plugins."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return root


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test sees the plugins installed at that moment."""
    from genloom.plugins import reset_plugins

    reset_plugins()
    yield
    reset_plugins()


def train_two_ranks(tmp_path, config, *overrides, env: dict | None = None):
    """``genloom train CONFIG`` on two CPU processes; returns (returncode, stdout, stderr)."""
    genloom = os.path.join(os.path.dirname(sys.executable), "genloom")
    env = {**{k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}, **(env or {})}
    proc = subprocess.Popen(
        [genloom, "train", str(ROOT / "examples/configs" / config),
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp", *overrides],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any rank left behind goes too
        except ProcessLookupError:
            pass
    return proc.returncode, out, err
