"""Both example configs through the command line: train stage 1, evaluate it and sample
its codebook; train stage 2 on it, delete stage 1, then sample and evaluate stage 2."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genloom import load_checkpoint

QUIET = ["trainer.max_epochs=1", "trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0"]
TINY_PRIOR = ["model.prior.width=32", "model.prior.layers=1", "model.prior.heads=2"]


def genloom_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def evaluate(run: Path) -> dict[str, float]:
    result = genloom_cli("evaluate", str(run), "--metric", "losses", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def stage1(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("vqvae") / "stage1"
    result = genloom_cli("train", "vqvae-digits", f"output_dir={run}",
                         "model.channels=16", *QUIET)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def stage2(tmp_path_factory, stage1) -> Path:
    root = tmp_path_factory.mktemp("vq-prior")
    first = root / "stage1-copy"
    shutil.copytree(stage1, first)
    run = root / "stage2"
    result = genloom_cli("train", "vq-prior-digits", f"output_dir={run}",
                         f"model.first_stage.checkpoint={first}", *TINY_PRIOR, *QUIET,
                         "sample.n=4", "sample.every_n_epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval mode" not in result.stderr  # the frozen first stage raises no Lightning warning
    shutil.rmtree(first)  # stage 2 must not need stage 1's files from now on
    return run


def test_stage_one_evaluates_and_samples_its_codebook(stage1, tmp_path):
    scores = evaluate(stage1)
    assert 1.0 < scores["test/perplexity"] <= 64.0
    assert scores["test/loss"] == pytest.approx(scores["test/recon"] + 0.25 * scores["test/commitment"],
                                                rel=1e-4)
    out = tmp_path / "codes.npy"
    result = genloom_cli("sample", str(stage1), "--sampler", "uniform_codes", "--n", "4",
                         "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    here = load_checkpoint(stage1).sample(4, sampler="uniform_codes",
                                          generator=torch.Generator().manual_seed(3)).data
    data = torch.from_numpy(np.load(out))
    assert data.shape == (4, 1, 8, 8)
    torch.testing.assert_close(data, here, atol=1e-5, rtol=0)
    assert not (stage1 / "samples").exists()  # no sample grids for a model that does not generate


def test_stage_two_is_self_contained(stage1, stage2):
    saved = OmegaConf.load(stage2 / "config.yaml")
    assert saved.model.first_stage.model.name == "vqvae:vqvae"
    assert list(saved.model.first_stage.info.shape) == [1, 8, 8]
    assert saved.model.prior.conditional is True  # the prior follows model.conditional
    assert (stage2 / "samples" / "epoch-001.png").is_file()
    model = load_checkpoint(stage2)
    first = load_checkpoint(stage1)
    for key, value in first.encoder.state_dict().items():
        assert torch.equal(model.first_stage.encoder.state_dict()[key], value), key


def test_stage_two_samples_each_label_with_the_priors_options(stage2, tmp_path):
    out = tmp_path / "digits.npy"
    labels = "0,1,2,3,4,5,6,7,8,9"
    result = genloom_cli("sample", str(stage2), "--n", "10", "--cond", labels, "--seed", "5",
                         "prior.top_k=20", "prior.temperature=0.8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = torch.from_numpy(np.load(out))
    here = load_checkpoint(stage2).sample(10, cond=torch.arange(10), prior={"top_k": 20, "temperature": 0.8},
                                          generator=torch.Generator().manual_seed(5)).data
    assert data.shape == (10, 1, 8, 8)
    torch.testing.assert_close(data, here, atol=1e-5, rtol=0)

    # prior_sampler=greedy is parsed the same way as prior.top_k; in-process to save a CLI start
    rows = load_checkpoint(stage2).sample(3, cond=torch.tensor([4]), prior_sampler="greedy").data
    assert rows.shape == (3, 1, 8, 8) and torch.equal(rows[0], rows[1]) and torch.equal(rows[0], rows[2])


def test_stage_two_evaluates_the_priors_held_out_loss(stage2):
    scores = evaluate(stage2)
    # nats per code: one epoch already beats the uniform prior's log K
    assert 0 < scores["test/loss"] < math.log(64)
    assert scores["test/bits_per_image"] == pytest.approx(scores["test/loss"] * 16 / math.log(2), rel=1e-4)
