"""Latent interpolation: the path maths, the model check, and the CLI strip."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from support import ROOT, run_cli
from genloom import DataInfo, load_config
from genloom.build import build_model
from genloom.errors import ConfigError
from genloom.interfaces import IncompatibleSamplerError
from genloom_eval.interpolation import interpolate, lerp, slerp

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)


def vae(*overrides):
    cfg = load_config(None, ["model.name=vae", "model.latent_dim=6", *overrides], check_trainer=False)
    return build_model(cfg, DIGITS)


def test_lerp_and_slerp_hit_both_ends():
    a, b = torch.randn(5), torch.randn(5)
    t = torch.tensor([0.0, 1.0])
    for walk in (lerp, slerp):
        path = walk(a, b, t)
        assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[1], b, atol=1e-6)


def test_slerp_keeps_the_radius_where_lerp_shrinks_it():
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    mid_s = slerp(a, b, torch.tensor([0.5]))[0]
    mid_l = lerp(a, b, torch.tensor([0.5]))[0]
    assert mid_s.norm().item() == pytest.approx(2.0, abs=1e-6)
    assert torch.allclose(mid_s, torch.tensor([math.sqrt(2), math.sqrt(2)]), atol=1e-6)
    assert mid_l.norm().item() == pytest.approx(math.sqrt(2), abs=1e-6)


def test_slerp_of_parallel_vectors_falls_back_to_a_line():
    a = torch.tensor([1.0, 1.0])
    path = slerp(a, 3 * a, torch.tensor([0.5]))
    assert torch.all(torch.isfinite(path)) and torch.allclose(path[0], 2 * a)


def test_interpolate_decodes_rows_from_seed_to_seed():
    model = vae()
    strip = interpolate(model, [4, 9, 2], steps=5)
    assert strip.data.shape == (10, 1, 8, 8) and strip.extras["nrow"] == 5
    z = strip.extras["latents"]
    seeded = lambda s: torch.randn(6, generator=torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.allclose(z[0], seeded(4)) and torch.allclose(z[4], seeded(9))
    assert torch.allclose(z[5], seeded(9)) and torch.allclose(z[9], seeded(2))
    again = interpolate(model, [4, 9, 2], steps=5)
    assert torch.equal(strip.data, again.data)
    assert not torch.equal(interpolate(model, [4, 9, 2], steps=5, method="lerp").data[2], strip.data[2])


def test_conditional_models_need_a_label_and_others_refuse_one():
    with pytest.raises(ConfigError, match="--cond"):
        interpolate(vae("model.conditional=true"), [0, 1])
    assert interpolate(vae("model.conditional=true"), [0, 1], cond=3).cond.tolist() == [3] * 8
    with pytest.raises(ConfigError, match="not conditional"):
        interpolate(vae(), [0, 1], cond=3)


def test_models_without_a_latent_prior_are_refused():
    model = vae()
    type(model).has_latent_space = False
    try:
        with pytest.raises(IncompatibleSamplerError, match="latent prior"):
            interpolate(model, [0, 1])
    finally:
        type(model).has_latent_space = True


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="two seeds"):
        interpolate(vae(), [0])
    with pytest.raises(ConfigError, match="slerp"):
        interpolate(vae(), [0, 1], method="cubic")
    for seed in (2**64, -1):  # torch's manual_seed overflowed: exit 1 with a traceback hint
        with pytest.raises(ConfigError, match=f"seed {seed} is out of range"):
            interpolate(vae(), [0, seed])
    with pytest.raises(ConfigError, match="--cond 10: the model knows classes 0 to 9"):
        interpolate(vae("model.conditional=true"), [0, 1], cond=10)


def test_cli_writes_a_strip_for_a_vae(tmp_path):
    run = tmp_path / "run"
    config = str(ROOT / "examples" / "configs" / "vae-digits.yaml")
    assert run_cli("train", config, f"output_dir={run}", "trainer.max_epochs=1",
                   "trainer.limit_train_batches=2", "trainer.limit_val_batches=1").returncode == 0
    out = tmp_path / "strip.png"
    result = run_cli("interpolate", str(run), "--seeds", "0,1,2", "--steps", "6", "--out", str(out))
    assert result.returncode == 0, result.stderr
    grid = np.asarray(Image.open(out))
    cell = 32 + 2  # 8x8 digits are drawn 4x larger, with a 2-pixel gap
    assert grid.shape[:2] == (2 * cell + 2, 6 * cell + 2)
    default = run_cli("interpolate", str(run))
    assert default.returncode == 0 and (run / "samples" / "interpolate-0-1-2-3.png").is_file()
    bad = run_cli("interpolate", str(run), "--seeds", "a,b")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--seeds" in bad.stderr
