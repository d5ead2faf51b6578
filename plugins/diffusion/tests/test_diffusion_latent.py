"""Latent diffusion over another model's Encoder/Generator pair, found through the registry.

The autoencoder here is a small model registered in-process (``local:tiny-ae``), so the
test needs no other plugin; ``tests/test_diffusion_e2e.py`` does the same over the VAE
plugin through the command line.
"""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

import genloom
from genloom import DataInfo, Encoder, GenerativeModel, Generator, load_checkpoint, load_config, train
from genloom.checkpoints import export, read_weights
from genloom.errors import CheckpointError, ComponentError, ConfigError

QUIET = ["trainer.enable_progress_bar=false", "sample.every_n_epochs=0"]


class TinyEncoder(Encoder):
    def __init__(self):
        super().__init__()
        self.latent_shape = (4,)
        self.net = nn.Linear(64, 4)

    def encode(self, x, cond=None):
        return self.net(x.flatten(1)) * 3.0  # latents far from unit scale


class TinyDecoder(Generator):
    def __init__(self):
        super().__init__()
        self.latent_shape, self.data_shape = (4,), (1, 8, 8)
        self.net = nn.Linear(4, 64)

    def forward(self, z, cond=None):
        return self.net(z / 3.0).view(len(z), 1, 8, 8)


class TinyAE(GenerativeModel):
    """A deterministic autoencoder: an Encoder that returns a tensor, and a Generator."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.encoder, self.decoder = TinyEncoder(), TinyDecoder()

    def losses(self, batch, player=None):
        x = batch["x"]
        return {"loss": (self.decoder(self.encoder.encode(x)) - x).pow(2).mean()}


@pytest.fixture(autouse=True)
def _tiny_ae_registered(fresh_plugins):
    """Every test starts with a fresh plugin host, so the local model is registered for each."""
    genloom.register("model", "tiny-ae", TinyAE)


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory):
    genloom.register("model", "tiny-ae", TinyAE)
    run = tmp_path_factory.mktemp("ae") / "run"
    cfg = load_config(None, ["model.name=tiny-ae", f"output_dir={run}", "trainer.max_steps=20", *QUIET])
    return train(cfg, echo=None).checkpoint


def test_latent_diffusion_trains_and_samples_without_the_autoencoder_file(autoencoder, tmp_path):
    ae_ckpt = tmp_path / "ae.ckpt"
    ae_ckpt.write_bytes(autoencoder.read_bytes())
    cfg = load_config(None, [
        "model.name=diffusion", "model.denoiser.name=mlp", "model.denoiser.hidden=32",
        f"model.latent.checkpoint={ae_ckpt}", f"output_dir={tmp_path / 'run'}",
        "trainer.max_steps=5", *QUIET,
    ])
    result = train(cfg, echo=None)
    model = result.model
    stage = model.first_stage
    assert model.sample_shape == (4,) and isinstance(stage.encoder, TinyEncoder)
    # the autoencoder's config and data info now live in this run's config
    saved = load_config(result.run_dir / "config.yaml", check_trainer=False)
    assert saved.model.latent.model.name == "local:tiny-ae"
    assert saved.model.latent.info["shape"] == [1, 8, 8]
    # the latent scale was measured on training data: the encoder's latents are ~3x too wide
    assert bool(stage.measured) and 0.01 < float(stage.scale) < 1.0
    # the autoencoder stayed frozen
    _, ae_state = read_weights(ae_ckpt)
    assert torch.equal(stage.encoder.net.weight, ae_state["encoder.net.weight"])
    assert not any(p.requires_grad for p in stage.parameters())

    ae_ckpt.unlink()  # sampling later needs only the diffusion checkpoint
    loaded = load_checkpoint(result.run_dir)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = loaded.sample(5, steps=4, generator=g()).data
    assert a.shape == (5, 1, 8, 8)
    assert torch.equal(a, model.sample(5, steps=4, generator=g()).data)
    export(result.checkpoint, tmp_path / "export")
    assert torch.equal(a, load_checkpoint(tmp_path / "export").sample(5, steps=4, generator=g()).data)


def test_latent_needs_an_autoencoder_checkpoint(autoencoder, tmp_path):
    base = ["model.name=diffusion", "model.denoiser.name=mlp"]
    with pytest.raises(CheckpointError, match="does not exist"):
        genloom.build_model(load_config(None, [*base, f"model.latent.checkpoint={tmp_path / 'no.ckpt'}"],
                                        check_trainer=False), DataInfo(kind="image", shape=(1, 8, 8)))
    with pytest.raises(ConfigError, match="model.latent.checkpoint was trained on data of shape"):
        genloom.build_model(load_config(None, [*base, f"model.latent.checkpoint={autoencoder}"],
                                        check_trainer=False), DataInfo(kind="image", shape=(1, 16, 16)))
