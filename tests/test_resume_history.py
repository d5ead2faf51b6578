"""A resume keeps the run's history; a refused resume changes nothing on disk.

The commands run in this process (``run_cli_in_process``: no new interpreter importing
torch each time); one refused resume runs as its own process, the real entry point."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from genloom_devkit.testing import run_cli_in_process

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
TINY = ["data.n=128", "trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0"]


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("resume") / "run"
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=2", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    return run


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_resume_appends_to_the_metrics_history(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    before = rows(run)
    assert [r["epoch"] for r in before] == ["0", "1"]
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=4", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 0, result.stderr
    after = rows(run)
    assert after[: len(before)] == [{**r, **{k: "" for k in after[0] if k not in r}} for r in before]
    assert [r["epoch"] for r in after] == ["0", "1", "2", "3"]
    assert "max_epochs: 4" in (run / "config.yaml").read_text()


def test_a_refused_resume_changes_nothing(trained, tmp_path, cli):
    run = copy_run(trained, tmp_path / "run")
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("train", CONFIG, "trainer.max_epochs=1", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1:] == [
        f"error: cannot resume '{run}': You restored a checkpoint with current_epoch=2, but you have "
        "set Trainer(max_epochs=1). Raise trainer.max_epochs (or trainer.max_steps) above what the run "
        "has done; nothing was changed"
    ]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


def test_a_fresh_run_keeps_a_stray_metrics_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,step,x\n0,0,1.0\n")  # a run that crashed before any checkpoint
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=1", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    assert (run / "metrics-2.csv").read_text() == "epoch,step,x\n0,0,1.0\n"
    assert [r["epoch"] for r in rows(run)] == ["0"]


def test_a_resume_that_changes_optim_is_refused_before_anything_changes(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=4", "optim.lr=0.5", f"output_dir={run}",
                                "--resume", *TINY)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: optim.lr cannot change on --resume (was 0.002, now 0.5): the optimizer state comes back "
        "from the checkpoint; resume with the run's optim settings, or start a new run from its "
        f"weights with init_from={run}"
    )
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"not a checkpoint at all"])
def test_resume_from_an_unreadable_checkpoint_is_one_line(trained, tmp_path, content):
    run = copy_run(trained, tmp_path / "run")
    (run / "checkpoints" / "last.ckpt").write_bytes(content)
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=4", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: checkpoint '{run}/checkpoints/last.ckpt' cannot be read")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


def test_without_periodic_checkpoints_only_last_ckpt_is_written(trained):
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["last.ckpt"]


def test_checkpoints_are_replaced_atomically(tmp_path, monkeypatch):
    import os

    import torch

    from genloom.run_files import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        io.save_checkpoint({"step": 2}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}  # the good one survives
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no partial temp file


def test_a_resume_forgets_what_a_kill_lost(trained, tmp_path):
    """What a killed run wrote after its last ``last.ckpt`` (rows, a periodic
    checkpoint, a half-written temp file) is redone by the resume: it must not stay
    twice in the history, nor outside ``checkpoint.keep``."""
    import torch

    run = copy_run(trained, tmp_path / "run")
    step = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    history = rows(run)
    lost = {**history[-1], "epoch": "2", "step": str(step + 3)}
    with (run / "metrics.csv").open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(history[0])).writerow(lost)
    ckpts = run / "checkpoints"
    (ckpts / f"epoch=002-step={step + 3}.ckpt").write_bytes(b"from the lost epoch")
    (ckpts / "epoch=000-step=1.ckpt").write_bytes(b"from before the last save")
    (ckpts / ".last.ckpt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=3", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 0, result.stderr
    after = rows(run)
    assert [r["epoch"] for r in after] == ["0", "1", "2"]  # epoch 2 once: the resumed run's
    assert [r["step"] for r in after][:2] == [r["step"] for r in history]
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch=000-step=1.ckpt", "last.ckpt"]


def test_enable_checkpointing_false_writes_no_checkpoint_and_says_so(tmp_path):
    from genloom import load_config, train

    said = []
    cfg = load_config(CONFIG, [*TINY, "trainer.max_epochs=1", "trainer.enable_checkpointing=false",
                               f"output_dir={tmp_path / 'run'}"])
    train(cfg, echo=said.append)
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert said == [f"run: {tmp_path / 'run'}  (no checkpoint)"]
