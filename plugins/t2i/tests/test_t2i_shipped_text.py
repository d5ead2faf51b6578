"""The shipped pre-trained text encoder (``model.text_checkpoint: shipped:NAME``): the file
loads into the recipes' encoder, the recipes name it and keep it frozen, an unknown name
is one line (exit 2), and the script that made it makes the same tensors again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from genloom import DataInfo, build_model, load_config
from genloom.errors import ConfigError
from genloom.model import FitContext
from genloom_t2i.text_pretrain import (SHIPPED_TEXT, new_encoder, pretrain_text_encoder,
                                       resolve_text_checkpoint, save_text_checkpoint)
from genloom_text.encoder import CharEncoder

SHIPPED = SHIPPED_TEXT["captions-contrastive"]
CAPTIONED = DataInfo(kind="image", shape=(1, 28, 28), num_classes=10, class_names=[str(i) for i in range(10)])


def record(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["genloom_text_pretrain"])


def test_the_shipped_encoder_is_small_and_says_how_it_was_made():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 600_000
    made = record(SHIPPED)
    assert made["script"] == "python -m genloom_t2i.text_pretrain"
    assert (made["objective"], made["seed"], made["steps"]) == ("contrastive", 0, 400)
    assert made["last_loss"] < made["first_loss"]


def test_the_recipe_resolves_the_shipped_name_and_loads_it_frozen():
    """t2i-mnist as packaged: its config names the shipped file, training starts from
    those exact tensors, and freezing keeps the encoder out of the optimizer."""
    cfg = load_config("t2i-mnist", [], check_trainer=False)
    assert cfg.model.text_checkpoint == "shipped:captions-contrastive" and cfg.model.freeze_text
    assert resolve_text_checkpoint(cfg.model.text_checkpoint) == SHIPPED
    model = build_model(cfg, CAPTIONED)
    model.on_fit_start(FitContext(global_step=0, device=torch.device("cpu"), loader=lambda: []))
    with safe_open(str(SHIPPED), framework="pt") as f:
        for key, value in model.text_encoder.state_dict().items():
            assert torch.equal(value, f.get_tensor(key)), key
        for key, value in model.ema.module.text.state_dict().items():
            assert torch.equal(value, f.get_tensor(key)), key
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    latent = load_config("t2i-latent-mnist", [], check_trainer=False)  # its VAE run is the user's
    assert latent.model.text_checkpoint == "shipped:captions-contrastive" and latent.model.freeze_text
    assert resolve_text_checkpoint("some/file.safetensors").as_posix() == "some/file.safetensors"


def test_an_unknown_shipped_name_is_one_line_listing_the_shipped_ones():
    with pytest.raises(ConfigError, match="shipped:captions-contrastive") as err:
        resolve_text_checkpoint("shipped:captions-denoise")
    assert "no shipped text encoder 'captions-denoise'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="no shipped text encoder"):  # when the model is built
        build_model(load_config("t2i-mnist", ["model.text_checkpoint=shipped:nope"], check_trainer=False),
                    CAPTIONED)


@pytest.mark.slow  # ~10 s under load: a genloom train process
def test_an_unknown_shipped_name_through_genloom_train_is_exit_2(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "genloom", "train", "t2i-mnist", "data.name=digits",
                           "model.text_checkpoint=shipped:nope", f"output_dir={run}"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nope'" in lines[0] and "shipped:captions-contrastive" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_contrastive_pretraining_is_deterministic(tmp_path):
    """A tiny stand-in for re-running the script: the same seed gives the same tensors
    (the full 400-step run is the slow test below)."""
    caps = torch.zeros(12, 2, 16, dtype=torch.uint8)
    for i in range(12):
        for j, text in enumerate((f"a {i % 10}", f"digit {i % 10}")):
            caps[i, j, : len(text)] = torch.tensor(list(text.encode("ascii")), dtype=torch.uint8)
    files = []
    for name in ("a", "b"):
        torch.manual_seed(0)
        enc = CharEncoder(CharEncoder.Config(dim=16, layers=1, heads=2))
        pretrain_text_encoder(enc, caps, steps=5, batch_size=6, objective="contrastive", seed=3)
        files.append(tmp_path / f"{name}.safetensors")
        save_text_checkpoint(enc, files[-1], {"seed": 3})
    # tensors and metadata, not bytes: safetensors writes its metadata map in any order
    from safetensors import safe_open

    opened = [safe_open(str(f), framework="pt") for f in files]
    assert opened[0].metadata() == opened[1].metadata()
    assert set(opened[0].keys()) == set(opened[1].keys())
    for key in opened[0].keys():
        assert torch.equal(opened[0].get_tensor(key), opened[1].get_tensor(key)), key


def test_the_scripts_encoder_starts_from_its_seed_alone():
    """The script once built its encoder before seeding: each run started from other
    weights, so the same --seed wrote another file."""
    first = new_encoder(16, 1, 2, seed=5).state_dict()
    torch.rand(100)  # whatever ran before must not matter
    again = new_encoder(16, 1, 2, seed=5).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    other = new_encoder(16, 1, 2, seed=6).state_dict()
    assert not torch.equal(first["embed.weight"], other["embed.weight"])


@pytest.mark.slow  # ~70 s: the shipped file's own 400-step run on the captioned digits
def test_the_script_with_the_recorded_arguments_remakes_the_shipped_file(tmp_path):
    made = record(SHIPPED)
    out = tmp_path / "again.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "genloom_t2i.text_pretrain", "--out", str(out), "--json",
                           "--objective", made["objective"], "--steps", str(made["steps"]),
                           "--seed", str(made["seed"]), "--batch-size", str(made["batch_size"]),
                           "--lr", str(made["lr"]), "--mask-rate", str(made["mask_rate"])],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with safe_open(str(SHIPPED), framework="pt") as want, safe_open(str(out), framework="pt") as got:
        assert set(want.keys()) == set(got.keys())
        for key in want.keys():
            assert torch.equal(want.get_tensor(key), got.get_tensor(key)), key
