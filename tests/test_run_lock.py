"""One ``genloom train`` per run directory at a time; stale locks are taken over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genloom import GenloomError
from genloom.run_files import RunLock

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.n=64", "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "sample.n=0"]


def test_a_held_lock_refuses_a_second_owner_and_releases(tmp_path):
    first = RunLock(tmp_path)
    first.acquire()
    with pytest.raises(GenloomError, match=r"in use by another genloom train \(PID \d+\)"):
        RunLock(tmp_path).acquire()
    first.release()
    again = RunLock(tmp_path)
    again.acquire()
    again.release()
    assert not (tmp_path / RunLock.NAME).exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket

    (tmp_path / RunLock.NAME).write_text(f"{dead} {socket.gethostname()}\n")
    lock = RunLock(tmp_path)
    lock.acquire()
    assert lock.held


def test_train_into_a_directory_in_use_is_one_line_exit_2(tmp_path, cli):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from genloom.run_files import RunLock; "
        f"RunLock({str(run)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = cli("train", str(ROOT / "examples/configs/vae-toy2d.yaml"), f"output_dir={run}", *TINY)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"error: run directory '{run}' is in use by another genloom train (PID {holder.pid}); "
            "wait for it to finish or choose another output_dir"
        ]
        assert sorted(p.name for p in run.iterdir()) == [RunLock.NAME]
    finally:
        holder.kill()
        holder.wait()
    result = cli("train", str(ROOT / "examples/configs/vae-toy2d.yaml"), f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr  # the dead holder's lock is stale
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / RunLock.NAME).exists()
