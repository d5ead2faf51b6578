"""A run's files and checkpoints never lose or corrupt data: what a save, a resume, an
export, a lock or a full disk must never do (issue 20).

Commands run in this process (``run_cli_in_process``: no new interpreter importing
torch each time), except where another process is the point: the lock's holder, and
the mid-epoch resume whose console must stay clean as a user sees it."""

from __future__ import annotations

import csv
import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from genloom_devkit.testing import run_cli_in_process
from test_local_components import MeanMatcher

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
TINY = ["data.n=128", "data.batch_size=32", "trainer.enable_progress_bar=false", "sample.n=0",
        "checkpoint.every_n_epochs=0", "trainer.log_every_n_steps=1"]


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def one_line_exit_2(result, start: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr[-2000:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("integrity") / "run"
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=2", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    return run


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def train_recording_saves(monkeypatch, tmp_path, *overrides):
    """Train in this process; return [(file name, global_step)] of every checkpoint saved."""
    from genloom import load_config, train
    from genloom.run_files import AtomicCheckpointIO

    saved = []
    original = AtomicCheckpointIO.save_checkpoint

    def recording(self, checkpoint, path, storage_options=None):
        saved.append((Path(path).name, checkpoint["global_step"]))
        original(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", recording)
    train(load_config(CONFIG, [*TINY, f"output_dir={tmp_path / 'run'}", *overrides]), echo=None)
    return saved


# 1 --------------------------------------------------------------------------------------


def test_a_periodic_checkpoint_of_non_finite_weights_is_refused(tmp_path):
    from genloom import DivergenceError
    from genloom.run_files import RunModelCheckpoint

    module = torch.nn.Linear(2, 2)
    with torch.no_grad():
        module.weight[0, 0] = float("nan")
    written = []
    trainer = SimpleNamespace(global_step=7, lightning_module=module, is_global_zero=True, loggers=[],
                              save_checkpoint=lambda path, weights_only=False: written.append(path))
    callback = RunModelCheckpoint(dirpath=str(tmp_path))
    with pytest.raises(DivergenceError, match="weights are not finite at step 7"):
        callback._save_checkpoint(trainer, str(tmp_path / "epoch=000-step=7.ckpt"))
    assert written == []


# 2 --------------------------------------------------------------------------------------


def test_a_resume_drops_the_row_of_the_first_batch_after_the_checkpoint(trained, tmp_path):
    """A kill (or Ctrl-C) after the first batch past ``last.ckpt`` left its row, logged
    at the checkpoint's own step: the resumed run logs that batch again."""
    run = copy_run(trained, tmp_path / "run")
    step = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    history = rows(run)
    lost = {k: "" for k in history[0]} | {"epoch": "2", "step": str(step), "train/loss": "1.0"}
    with (run / "metrics.csv").open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(history[0])).writerow(lost)
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=3", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 0, result.stderr
    train_steps = [r["step"] for r in rows(run) if r["train/loss"]]
    assert len(train_steps) == len(set(train_steps))
    assert rows(run)[: len(history)] == history  # the epoch-end rows at the step before stay


# 3 --------------------------------------------------------------------------------------


def test_a_failing_sample_grid_keeps_the_epochs_checkpoint(tmp_path, monkeypatch):
    import genloom.training
    from genloom import load_config, train

    calls = []
    real = genloom.training.save_samples

    def fails_second_time(samples, path, info, record=None):
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("the grid writer broke")
        return real(samples, path, info, record)

    monkeypatch.setattr(genloom.training, "save_samples", fails_second_time)
    cfg = load_config(CONFIG, [*TINY, "sample.n=8", "sample.every_n_epochs=1", "trainer.max_epochs=3",
                               "checkpoint.last_every_seconds=0", f"output_dir={tmp_path}"])
    with pytest.raises(RuntimeError, match="grid writer"):
        train(cfg, echo=None)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 6  # epoch 2 (of 3 batches) was saved


# 4 --------------------------------------------------------------------------------------


def test_an_export_into_a_run_folder_is_refused(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for target in (run, run / "checkpoints"):
        result = run_cli_in_process("export", str(run), str(target))
        one_line_exit_2(result, f"error: '{target}' holds a training run's checkpoints")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


# 5 --------------------------------------------------------------------------------------


class TurnsBad(MeanMatcher):
    """Trains normally until ``bad`` is set; then every training loss is NaN."""

    bad = False

    def losses(self, batch, player=None):
        parts = super().losses(batch, player)
        if self.training and TurnsBad.bad:
            parts["loss"] = parts["loss"] * float("nan")
        return parts


def test_a_resume_that_diverges_at_once_keeps_config_yaml(tmp_path):
    from genloom import DivergenceError, load_config, register, train

    register("model", "turns-bad", TurnsBad)
    base = ["model.name=turns-bad", "data.name=toy2d", "data.n=128", "data.batch_size=64",
            f"output_dir={tmp_path}", "trainer.enable_progress_bar=false", "sample.n=0",
            "checkpoint.every_n_epochs=0"]
    train(load_config(None, [*base, "trainer.max_epochs=1"]), echo=None)
    before = (tmp_path / "config.yaml").read_text()
    TurnsBad.bad = True
    with pytest.raises(DivergenceError):
        train(load_config(None, [*base, "trainer.max_epochs=3"]), resume=True, echo=None)
    assert (tmp_path / "config.yaml").read_text() == before


# 6 --------------------------------------------------------------------------------------


def test_new_weights_under_old_metadata_are_detected(trained, tmp_path, monkeypatch):
    import genloom.atomic
    from genloom import CheckpointError, load_checkpoint
    from genloom.checkpoints import export

    out = tmp_path / "export"
    export(trained, out)
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["state_dict"] = {k: v + 1 for k, v in ckpt["state_dict"].items()}
    other = tmp_path / "other.ckpt"
    torch.save(ckpt, other)
    real = genloom.atomic.write_atomic

    def crash_before_metadata(path, data):
        if Path(path).name == "genloom.json":
            raise OSError(errno.EIO, "the machine lost power")
        return real(path, data)

    monkeypatch.setattr(genloom.atomic, "write_atomic", crash_before_metadata)
    with pytest.raises(CheckpointError):
        export(other, out, force=True)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="model.safetensors does not match genloom.json"):
        load_checkpoint(out)
    export(other, out, force=True)  # the fix the message names
    assert load_checkpoint(out) is not None


# 7 and 10 -------------------------------------------------------------------------------


def test_last_ckpt_is_written_mid_epoch_once_its_time_is_up(tmp_path, monkeypatch):
    saved = train_recording_saves(monkeypatch, tmp_path, "trainer.max_epochs=1",
                                  "checkpoint.last_every_seconds=1e-9")
    assert saved == [("last.ckpt", 1), ("last.ckpt", 2), ("last.ckpt", 3)]  # 3 batches an epoch


def test_last_ckpt_is_written_with_every_periodic_checkpoint(tmp_path, monkeypatch):
    saved = train_recording_saves(monkeypatch, tmp_path, "trainer.max_epochs=2",
                                  "checkpoint.every_n_steps=2", "checkpoint.last_every_seconds=1000")
    assert saved == [("epoch=000-step=2.ckpt", 2), ("last.ckpt", 2),  # 3 batches an epoch
                     ("epoch=001-step=4.ckpt", 4), ("last.ckpt", 4), ("epoch=001-step=6.ckpt", 6),
                     ("last.ckpt", 6)]


def test_every_n_steps_alone_trains_a_packaged_config(tmp_path):
    run = tmp_path / "run"
    result = run_cli_in_process(
        "train", "vae-toy2d", f"output_dir={run}", "data.n=128", "data.batch_size=32", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_steps=2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "epoch=000-step=2.ckpt", "last.ckpt"]  # 3 batches in the epoch


# 8 --------------------------------------------------------------------------------------


def test_metrics_rows_are_appended_and_the_file_rewritten_only_for_a_new_column(tmp_path, monkeypatch):
    import genloom.run_files
    from genloom.run_files import _KeepingWriter

    rewrites = []
    real = genloom.run_files.write_atomic
    monkeypatch.setattr(genloom.run_files, "write_atomic", lambda p, d: (rewrites.append(p), real(p, d)))
    writer = _KeepingWriter(str(tmp_path), resume=False)
    for step in range(200):
        writer.log_metrics({"train/loss": float(step)}, step)
        writer.save()
    assert len(rewrites) == 1  # the header
    writer.log_metrics({"val/loss": 1.0}, 200)
    writer.save()
    assert len(rewrites) == 2  # a new column
    assert [r["step"] for r in rows(tmp_path)] == [str(s) for s in range(201)]
    with (tmp_path / "metrics.csv").open("a") as f:
        f.write("0.5,201,")  # a kill in the middle of appending a row
    resumed = _KeepingWriter(str(tmp_path), resume=True)
    resumed.log_metrics({"train/loss": 9.0}, 201)
    resumed.save()
    assert [r["step"] for r in rows(tmp_path)][-3:] == ["199", "200", "201"]
    assert rows(tmp_path)[-1]["train/loss"] == "9.0"


def test_appended_metrics_rows_are_synced_to_disk_at_most_every_few_seconds_and_at_the_end(
        tmp_path, monkeypatch):
    """An fsync per save cost a small model a tenth of its step time: rows are flushed on
    every save (a kill loses none) and fsynced every SYNC_SECONDS and when the run ends."""
    import genloom.run_files
    from genloom.run_files import RunCSVLogger

    synced = []
    monkeypatch.setattr(genloom.run_files.os, "fsync", lambda fd: synced.append(fd))
    logger = RunCSVLogger(tmp_path, resume=False)
    for step in range(50):
        logger.log_metrics({"train/loss": float(step)}, step)
        logger.save()
    header = len(synced)
    assert header <= 1  # only the atomic write of the header (the old code: 50 more)
    assert len(rows(tmp_path)) == 50  # every row is in the file (flushed) all the same
    monkeypatch.setattr(genloom.run_files, "SYNC_SECONDS", 0.0)
    logger.log_metrics({"train/loss": 1.0}, 50)
    logger.save()
    assert len(synced) == header + 1
    monkeypatch.setattr(genloom.run_files, "SYNC_SECONDS", 1e9)
    logger.log_metrics({"train/loss": 2.0}, 51)
    logger.finalize("success")
    assert len(synced) == header + 2  # the run's last rows reach the disk


# 9 --------------------------------------------------------------------------------------


def test_the_lock_is_held_even_before_its_owner_wrote_its_pid(tmp_path):
    """Between creating the lock file and writing its PID, the file is empty: that must
    not read as a stale lock."""
    from genloom import GenloomError
    from genloom.run_files import RunLock

    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from genloom.run_files import RunLock; "
        f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (tmp_path / RunLock.NAME).write_text("")  # the moment before the PID is written
        with pytest.raises(GenloomError, match="is in use by another genloom train"):
            RunLock(tmp_path).acquire()
        (tmp_path / RunLock.NAME).write_text(f"{holder.pid} host\n")
        with pytest.raises(GenloomError, match=rf"\(PID {holder.pid}\)"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(tmp_path)
    lock.acquire()  # the kernel released the dead holder's lock
    lock.release()


# 11 -------------------------------------------------------------------------------------


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path):
    target = tmp_path / "run"
    target.write_text("not a folder")
    result = run_cli_in_process("train", CONFIG, f"output_dir={target}", "trainer.max_epochs=1", *TINY)
    one_line_exit_2(result, f"error: output_dir '{target}' is a file")
    assert target.read_text() == "not a folder"


def test_a_full_disk_during_training_is_one_line(tmp_path, monkeypatch):
    import genloom.run_files
    from genloom import GenloomError, load_config, train

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(genloom.run_files, "write_atomic", full)
    with pytest.raises(GenloomError, match="No space left on device"):
        train(load_config(CONFIG, [*TINY, "trainer.max_epochs=1", f"output_dir={tmp_path / 'run'}"]),
              echo=None)


@pytest.mark.parametrize("edit", ["no state_dict", "state_dict a list", "format two"])
def test_an_edited_checkpoint_is_one_line(trained, tmp_path, edit):
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    if edit == "no state_dict":
        del ckpt["state_dict"]
    elif edit == "state_dict a list":
        ckpt["state_dict"] = [1, 2]
    else:
        ckpt["genloom"]["format"] = "two"
    path = tmp_path / "edited.ckpt"
    torch.save(ckpt, path)
    one_line_exit_2(run_cli_in_process("sample", str(path), "--out", str(tmp_path / "s.png")),
                    f"error: checkpoint '{path}'")


@pytest.mark.parametrize("edit", ["optimizer_states", "loops"])
def test_a_resume_from_damaged_training_state_is_one_line(trained, tmp_path, edit):
    run = copy_run(trained, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    if edit == "optimizer_states":
        ckpt["optimizer_states"] = [{"state": "garbage"}]
    else:
        ckpt["loops"]["fit_loop"] = {"state_dict": 3}
    torch.save(ckpt, last)
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=4", f"output_dir={run}", "--resume", *TINY)
    one_line_exit_2(result, f"error: cannot resume from '{last}': its training state is damaged")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize("edit", ["array", "quantized true"])
def test_an_edited_export_is_one_line(trained, tmp_path, edit):
    from genloom.checkpoints import export

    out = export(trained, tmp_path / "export")
    meta = json.loads((out / "genloom.json").read_text())
    meta = [meta] if edit == "array" else {**meta, "quantized": True}
    (out / "genloom.json").write_text(json.dumps(meta))
    one_line_exit_2(run_cli_in_process("sample", str(out), "--out", str(tmp_path / "s.png")), f"error: '{out}'")


# 12 -------------------------------------------------------------------------------------


def test_a_mid_epoch_resume_and_a_gans_step_checkpoints_warn_nothing(tmp_path, cli):
    run = tmp_path / "run"
    args = [CONFIG, f"output_dir={run}", *TINY, "trainer.max_epochs=5"]
    result = run_cli_in_process("train", *args, "trainer.max_steps=2")  # ends mid-epoch
    assert result.returncode == 0, result.stderr
    result = cli("train", *args, "trainer.max_steps=6", "--resume")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    steps = [r["step"] for r in rows(run) if r["train/loss"]]
    assert steps == [str(s) for s in range(6)]  # each batch once
    result = run_cli_in_process(
        "train", "gan-toy2d", f"output_dir={tmp_path / 'gan'}", "data.n=128", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_steps=2")
    assert result.returncode == 0 and result.stderr == "", result.stderr
