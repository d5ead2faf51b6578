"""One ``genloom train`` per run directory at a time; stale locks are taken over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genloom import GenloomError
from genloom_devkit.testing import run_cli_in_process
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
    result = run_cli_in_process("train", str(ROOT / "examples/configs/vae-toy2d.yaml"), f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr  # the dead holder's lock is stale
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / RunLock.NAME).exists()


@pytest.mark.parametrize("launcher", [
    {"WORLD_SIZE": "2", "RANK": "{rank}"},  # torchrun
    {"SLURM_NTASKS": "2", "SLURM_PROCID": "{rank}"},  # srun with two tasks
])
def test_processes_started_by_a_launcher_agree_on_the_run_directory(launcher, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from genloom.errors import ConfigError
    from genloom.training import RUN_DIR_ENV, resolve_run_dir

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"rank 0 got here first")
    for rank in (0, 1):
        for key, value in launcher.items():
            monkeypatch.setenv(key, value.format(rank=rank))
        with pytest.raises(ConfigError, match="output_dir"):  # each would pick its own runs/NAME-N
            resolve_run_dir(OmegaConf.create({"output_dir": None}), False, "vae-digits")
    cfg = OmegaConf.create({"output_dir": "run"})
    assert resolve_run_dir(cfg, False, "x") == Path("run")  # rank 1 takes it as it is
    monkeypatch.setenv(next(k for k in launcher if "RANK" in k or "PROCID" in k), "0")
    with pytest.raises(GenloomError, match="already holds a run"):  # rank 0 still checks
        resolve_run_dir(cfg, False, "x")
