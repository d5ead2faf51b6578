"""Shared fixtures of the core's tests; the general ones come from genloom.testing.plugin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# ``cli``, ``plugin_dir``, ``fresh_plugins``, ``isolated_plugins`` and ``tiny_info`` come
# from genloom's installed pytest plugin (genloom.testing.plugin); the helpers behind
# them are importable for tests that call them directly.
from genloom.testing.helpers import make_plugin, run_cli  # noqa: E402,F401


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
