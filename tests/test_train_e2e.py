"""End to end through the CLI: train, sample deterministically, refuse to overwrite,
and survive a kill with --resume.

Training, one sample, an export, Ctrl-C and the kill run ``genloom`` in a new process,
as a user does; the commands that check what happens next run in this process
(``run_cli_in_process``), which saves each a new interpreter importing torch."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from genloom_devkit.testing import run_cli_in_process
from support import ROOT, run_cli

CONFIG = str(ROOT / "examples" / "configs" / "vae-digits.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("e2e") / "run"
    result = run_cli(
        "train", CONFIG, f"output_dir={run}", "trainer.max_epochs=2", "sample.every_n_epochs=1",
        "sample.n=16", "checkpoint.every_n_epochs=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run, result


def test_training_writes_a_complete_run(trained):
    run, result = trained
    assert (run / "config.yaml").read_text().startswith("seed: 0")
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert len(list((run / "checkpoints").glob("epoch=*.ckpt"))) == 2  # periodic ones
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch-001.png", "epoch-002.png"]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert any(r.get("val/loss") for r in rows) and any(r.get("train/loss") for r in rows)
    assert f"run: {run}" in result.stdout and "samples:" in result.stdout


def test_console_output_is_clean(trained):
    _, result = trained
    text = result.stdout + result.stderr
    for noise in ("Tip", "litlogger", "LeafSpec", "Warning", "GPU available", "Validation"):
        assert noise not in text, noise


def test_checkpoint_records_config_and_plugins(trained):
    run, _ = trained
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    meta = ckpt["genloom"]
    assert meta["config"]["model"]["name"] == "vae:vae"
    assert meta["plugins"]["vae"] == "0.1.0" and meta["info"]["shape"] == [1, 8, 8]


def test_sampling_is_deterministic_per_seed(trained, tmp_path):
    run, _ = trained
    outs = []
    # a new process, then this one (whatever its random state): the seed alone decides
    for name, seed, runner in (("a", 3, run_cli), ("b", 3, run_cli_in_process), ("c", 4, run_cli_in_process)):
        out = tmp_path / f"{name}.npy"
        result = runner("sample", str(run), "--n", "8", "--seed", str(seed), "--out", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(np.load(out))
    assert outs[0].shape == (8, 1, 8, 8)
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])
    png = run_cli_in_process("sample", str(run / "checkpoints" / "last.ckpt"), "--n", "4", "temperature=0.5")
    assert png.returncode == 0 and (run / "samples" / "sample-seed0.png").is_file()
    bad = run_cli_in_process("sample", str(run), "temprature=0.5")
    assert bad.returncode == 2 and "did you mean 'temperature'" in bad.stderr


def test_export_to_safetensors_samples_the_same(trained, tmp_path):
    run, _ = trained
    out = tmp_path / "export"
    assert run_cli("export", str(run), str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["genloom.json", "model.safetensors"]
    for name, src in (("ckpt", run), ("export", out)):
        result = run_cli_in_process("sample", str(src), "--n", "4", "--out", str(tmp_path / f"{name}.npy"))
        assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "ckpt.npy"), np.load(tmp_path / "export.npy"))
    again = run_cli_in_process("export", str(run), str(out))
    assert again.returncode == 2 and "--force" in again.stderr


def test_existing_run_is_never_overwritten(trained):
    run, _ = trained
    before = (run / "checkpoints" / "last.ckpt").read_bytes()
    result = run_cli_in_process("train", CONFIG, f"output_dir={run}", "trainer.max_epochs=1")
    assert result.returncode == 2 and "--resume" in result.stderr
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == before


def test_ctrl_c_stops_cleanly_with_a_resume_hint(tmp_path):
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genloom", "train", CONFIG, f"output_dir={run}",
         "sample.every_n_epochs=0", "trainer.max_epochs=100000", "checkpoint.last_every_seconds=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "checkpoints" / "last.ckpt").exists():
            time.sleep(0.05)
        training = (run / "checkpoints" / "last.ckpt").exists()  # Ctrl-C mid-training, not at start-up
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert training
    assert proc.returncode == 130, err[-2000:]
    assert f"output_dir={run} --resume" in err and "Traceback" not in err


def test_kill_and_resume(tmp_path):
    run = tmp_path / "run"
    args = [CONFIG, f"output_dir={run}", "sample.every_n_epochs=0", "trainer.limit_train_batches=4"]
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.Popen(  # far more epochs than it gets to run before the kill
        [sys.executable, "-m", "genloom", "train", *args, "trainer.max_epochs=100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and not last.exists():
            time.sleep(0.05)
        assert last.exists(), "training never wrote last.ckpt"
        time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    killed = torch.load(last, weights_only=True)
    assert killed["global_step"] >= 4
    target = killed["epoch"] + 3
    result = run_cli_in_process("train", *args, f"trainer.max_epochs={target}", "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    final = torch.load(last, weights_only=True)
    assert final["global_step"] == target * 4 > killed["global_step"]
    nothing = run_cli_in_process("train", CONFIG, f"output_dir={tmp_path / 'empty'}", "--resume")
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr
