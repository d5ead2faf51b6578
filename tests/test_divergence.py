"""Divergence is loud: a NaN loss stops the run in one line and the last good
checkpoint survives; ``optim.nonfinite=skip`` skips such steps instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genloom import load_checkpoint, load_config, register, train
from genloom.errors import DivergenceError
from test_local_components import MeanMatcher

ROOT = Path(__file__).resolve().parents[1]


class GoesBad(MeanMatcher):
    """Trains normally, then its loss is NaN on every training call from the 12th on
    (the data has 4 batches an epoch, so epochs 1-2 are clean)."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.calls = 0

    def losses(self, batch, player=None):
        parts = super().losses(batch, player)
        if self.training:
            self.calls += 1
            if self.calls >= 12:
                parts["loss"] = parts["loss"] * float("nan")
        return parts


def config(tmp_path, *extra):
    return load_config(None, [
        "model.name=goes-bad", "data.name=toy2d", "data.n=320", "data.batch_size=64",
        f"output_dir={tmp_path}", "trainer.max_epochs=6", "trainer.enable_progress_bar=false",
        "checkpoint.last_every_seconds=0", "checkpoint.every_n_epochs=0", "sample.n=0", *extra,
    ])


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    register("model", "goes-bad", GoesBad)
    with pytest.raises(DivergenceError, match=r"training diverged at step 11: non-finite loss=nan"):
        train(config(tmp_path), echo=None)
    model = load_checkpoint(tmp_path)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 8  # the end of epoch 2, before the NaN


def test_skip_policy_skips_bad_steps_and_finishes(tmp_path):
    register("model", "goes-bad", GoesBad)
    result = train(config(tmp_path, "optim.nonfinite=skip"), echo=None)
    assert result.trainer.lightning_module.skipped_steps == 13  # batches 12-24 of 24
    assert all(bool(torch.isfinite(p).all()) for p in result.model.parameters())
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_a_huge_learning_rate_is_one_line_exit_2(tmp_path, cli):
    result = cli("train", str(ROOT / "examples/configs/vae-toy2d.yaml"), "optim.lr=1e9", "data.n=256",
                 "trainer.max_epochs=3", "trainer.enable_progress_bar=false", f"output_dir={tmp_path / 'r'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: training diverged")
    assert "Traceback" not in result.stderr


def test_nonfinite_policy_is_validated():
    from genloom import ConfigError

    with pytest.raises(ConfigError, match="optim.nonfinite"):
        load_config(None, ["model.name=vae", "optim.nonfinite=ignore"])
