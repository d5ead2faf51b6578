"""SIGKILL a training run at 10 points, including in the middle of checkpoint, metrics
and sample-grid writes, then ``--resume``: every resume must reach the target step with
the whole metrics history, each epoch logged once, ``checkpoint.keep`` honoured and no
temporary file left. Slow tier: about 10-20 s a point.

Writes are made frequent (``last.ckpt`` and a periodic checkpoint every epoch of two
batches, a grid every epoch, metrics every step) so that a kill often lands in one.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from support import ROOT, run_cli

CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
ARGS = ["data.n=256", "data.batch_size=64", "trainer.limit_train_batches=2", "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1", "checkpoint.last_every_seconds=0", "checkpoint.every_n_epochs=1",
        "checkpoint.keep=2", "sample.every_n_epochs=1", "sample.n=16"]


def temp_file(run: Path, pattern: str) -> bool:
    return any(run.rglob(pattern))


#: when to kill, once the first last.ckpt exists: a pattern of temporary file to wait
#: for (a write in progress), or a delay in seconds
POINTS = {
    "at-first-checkpoint": 0.0,
    "writing-last-ckpt": ".last.ckpt.*.tmp",
    "writing-periodic-ckpt": ".epoch=*.tmp",
    "writing-metrics": ".metrics.csv.*.tmp",
    "writing-grid": ".epoch-*.tmp.png",
    "after-0.3s": 0.3,
    "after-0.7s": 0.7,
    "after-1.1s": 1.1,
    "after-1.6s": 1.6,
    "after-2.5s": 2.5,
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(POINTS))
def test_kill_anywhere_then_resume_loses_nothing(point, tmp_path):
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genloom", "train", CONFIG, *ARGS, f"output_dir={run}", "trainer.max_epochs=100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    last = run / "checkpoints" / "last.ckpt"
    when = POINTS[point]
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not last.exists():
            time.sleep(0.01)
        assert last.exists()
        if isinstance(when, str):  # poll for a write in progress; give up after 5 s
            until = time.time() + 5
            while time.time() < until and not temp_file(run, when):
                pass
        else:
            time.sleep(when)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    killed = torch.load(last, weights_only=True)  # never half-written
    target = killed["epoch"] + 2
    result = run_cli("train", CONFIG, *ARGS, f"output_dir={run}", f"trainer.max_epochs={target}", "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    final = torch.load(last, weights_only=True)
    assert final["global_step"] == target * 2
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    validated = [int(r["epoch"]) for r in rows if r.get("val/loss")]
    assert validated == list(range(target))  # every epoch's validation, once each, in order
    periodic = sorted(p.name for p in (run / "checkpoints").glob("epoch=*.ckpt"))
    assert len(periodic) <= 2  # checkpoint.keep
    assert not temp_file(run, ".*.tmp") and not temp_file(run, ".*.tmp.*")
    assert not (run / ".genloom.lock").exists()
