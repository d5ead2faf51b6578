"""The GAN end to end through the CLI: train, sample (prior, truncation, --cond),
interpolate, and a two-process DDP run as a subprocess.

The one-line error of sampling without --cond and DDP run as new processes, as a user
runs them; the other commands run in this process (run_cli_in_process), which spares
each a new interpreter importing torch."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
import pytest
from genloom_devkit.testing import run_cli_in_process

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "examples" / "configs"
TINY = ["model.generator.channels=8", "model.discriminator.channels=8", "trainer.max_epochs=2",
        "trainer.limit_train_batches=4", "trainer.limit_val_batches=1", "trainer.log_every_n_steps=1",
        "sample.n=16"]


def genloom(*args, cwd=None, timeout=240):
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def cgan(tmp_path_factory):
    run = tmp_path_factory.mktemp("cgan") / "run"
    result = run_cli_in_process("train", str(CONFIGS / "cgan-digits.yaml"), f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_sampling_a_conditional_gan_without_cond_is_one_line_exit_2(cgan, tmp_path):
    result = genloom("sample", str(cgan), "--n", "2", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: model GAN is conditional: pass class labels, e.g. --cond 7 or --cond 0,1,2"
    ]
    assert not (tmp_path / "x.png").exists()


def test_training_writes_checkpoint_and_grids(cgan):
    assert (cgan / "checkpoints" / "last.ckpt").is_file()
    assert (cgan / "samples" / "epoch-002.png").is_file()
    header = (cgan / "metrics.csv").read_text().splitlines()[0]
    assert "train/discriminator/loss" in header and "train/generator/loss" in header


def test_cond_sampling_returns_the_requested_class(cgan, tmp_path):
    out = tmp_path / "sevens.npy"
    result = run_cli_in_process("sample", str(cgan), "--cond", "7", "--n", "12", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (12, 1, 8, 8)
    again = tmp_path / "again.npy"
    run_cli_in_process("sample", str(cgan), "--cond", "7", "--n", "12", "--out", str(again))
    assert np.array_equal(np.load(out), np.load(again))
    other = tmp_path / "threes.npy"
    run_cli_in_process("sample", str(cgan), "--cond", "3", "--n", "12", "--out", str(other))
    assert not np.array_equal(np.load(out), np.load(other))


def test_truncation_sampler_and_interpolation_from_the_cli(cgan, tmp_path):
    trunc = run_cli_in_process("sample", str(cgan), "--cond", "1", "--sampler", "truncation", "threshold=0.7",
                               "--n", "8", "--out", str(tmp_path / "t.png"))
    assert trunc.returncode == 0, trunc.stderr
    strip = run_cli_in_process("interpolate", str(cgan), "--cond", "4", "--out", str(tmp_path / "s.png"))
    assert strip.returncode == 0, strip.stderr
    assert Image.open(tmp_path / "s.png").size[0] > 8  # a strip of several 8x8 digits
    missing = run_cli_in_process("interpolate", str(cgan))
    assert missing.returncode == 2 and "--cond" in missing.stderr and "Traceback" not in missing.stderr


def test_unknown_loss_is_a_one_line_error(tmp_path):
    result = run_cli_in_process("train", str(CONFIGS / "gan-digits.yaml"), "model.loss=lsgan", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lsgan" in result.stderr and "hinge" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_ddp_two_processes_with_alternating_players(tmp_path):
    """Plain DDP would fail after the first step: each player's backward leaves the
    other's parameters without gradients. The core switches to find_unused_parameters."""
    cmd = [sys.executable, "-m", "genloom", "train", str(CONFIGS / "gan-toy2d.yaml"),
           "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
           "trainer.max_epochs=1", "trainer.limit_train_batches=6", "model.loss=wgan-gp",
           "model.d_steps=2", "model.r1_weight=1.0", "model.spectral_norm=true", "sample.n=64"]
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any rank left behind goes too
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, err[-3000:]
    run = tmp_path / "runs" / "gan-toy2d"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["gan-toy2d"]
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "samples" / "epoch-001.png").is_file()
    assert out.count("run: ") == 1


def test_evaluate_uses_sample_metrics(cgan):
    chosen = run_cli_in_process("evaluate", str(cgan))  # sample metrics are chosen beside the diagnostics
    assert chosen.returncode == 0 and "test/fid" in chosen.stdout and "test/d_loss" in chosen.stdout
    result = run_cli_in_process("evaluate", str(cgan), "--metric", "frechet", "--metric", "novelty", "--json")
    assert result.returncode == 0, result.stderr
    import json

    values = json.loads(result.stdout)
    assert values["test/frechet"] > 0 and values["test/novelty_ratio"] > 0
