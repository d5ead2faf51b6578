"""A resume keeps the run's history; a refused resume changes nothing on disk."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
TINY = ["data.n=128", "trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0"]


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import run_cli

    run = tmp_path_factory.mktemp("resume") / "run"
    result = run_cli("train", CONFIG, "trainer.max_epochs=2", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    return run


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_resume_appends_to_the_metrics_history(trained, tmp_path, cli):
    run = copy_run(trained, tmp_path / "run")
    before = rows(run)
    assert [r["epoch"] for r in before] == ["0", "1"]
    result = cli("train", CONFIG, "trainer.max_epochs=4", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 0, result.stderr
    after = rows(run)
    assert after[: len(before)] == [{**r, **{k: "" for k in after[0] if k not in r}} for r in before]
    assert [r["epoch"] for r in after] == ["0", "1", "2", "3"]
    assert "max_epochs: 4" in (run / "config.yaml").read_text()


def test_a_refused_resume_changes_nothing(trained, tmp_path, cli):
    run = copy_run(trained, tmp_path / "run")
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("train", CONFIG, "trainer.max_epochs=1", "optim.lr=0.5", f"output_dir={run}", "--resume",
                 *TINY)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1:] == [
        f"error: cannot resume '{run}': You restored a checkpoint with current_epoch=2, but you have "
        "set Trainer(max_epochs=1). Raise trainer.max_epochs (or trainer.max_steps) above what the run "
        "has done; nothing was changed"
    ]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


def test_a_fresh_run_keeps_a_stray_metrics_file(tmp_path, cli):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,step,x\n0,0,1.0\n")  # a run that crashed before any checkpoint
    result = cli("train", CONFIG, "trainer.max_epochs=1", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    assert (run / "metrics-2.csv").read_text() == "epoch,step,x\n0,0,1.0\n"
    assert [r["epoch"] for r in rows(run)] == ["0"]
