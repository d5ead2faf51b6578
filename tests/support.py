"""Helpers the core's tests import (``from support import ...``): paths, the CLI in a
subprocess, throwaway plugins, process groups. A module of its own, not ``conftest``:
several test folders have a ``conftest.py``, and ``from conftest import`` finds whichever
one a pytest worker imported first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# the helpers behind genloom's pytest plugin fixtures (cli, plugin_dir), for direct calls
from genloom_devkit.testing.helpers import make_plugin, run_cli  # noqa: E402,F401


def run_group(command: list[str], cwd, env: dict | None = None, timeout: float = 240):
    """Run ``command`` in its own process group and kill the whole group when it ends
    (DDP ranks, torchrun workers): returns (returncode, stdout, stderr)."""
    env = {**{k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}, **(env or {})}
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any process left behind goes too
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def train_two_ranks(tmp_path, config, *overrides, env: dict | None = None):
    """``genloom train CONFIG`` on two CPU processes; returns (returncode, stdout, stderr)."""
    genloom = os.path.join(os.path.dirname(sys.executable), "genloom")
    return run_group([genloom, "train", str(ROOT / "examples/configs" / config), "trainer.accelerator=cpu",
                      "trainer.devices=2", "trainer.strategy=ddp", *overrides], tmp_path, env)
