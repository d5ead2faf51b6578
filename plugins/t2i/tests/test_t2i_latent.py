"""The latent t2i: the cross-attention UNet over a frozen first stage's latents.

The first stage here is a small conv autoencoder registered in-process
(``local:tiny-grid-ae``, latents a ``(2, 4, 4)`` grid) and trained in the test, so this
file needs no other model plugin; the conformance kit runs over a random-weight
AutoencoderKL of genloom-diffusion; ``tests/test_t2i_latent_e2e.py`` does the same over
the VAE plugin's flat latents through the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

import genloom
from genloom import DataInfo, Encoder, GenerativeModel, Generator, build_model, load_checkpoint, load_config, train
from genloom.checkpoints import export, read_weights
from genloom.errors import CheckpointError, ConfigError
from genloom.sampling import draw
from genloom_devkit.testing import Case, parametrize_with_checks

from genloom_t2i.unet import CrossAttentionUNet

SMALL = ["model.channels=8", "model.heads=2", "model.timesteps=50", "model.text_encoder.dim=16",
         "model.text_encoder.layers=1", "model.text_encoder.heads=2", "model.objective=flow", "model.pooled=true"]
QUIET = ["trainer.enable_progress_bar=false", "sample.every_n_epochs=0", "data.name=digits", "data.batch_size=16"]


class GridEncoder(Encoder):
    def __init__(self, conditional: bool = False):
        super().__init__()
        self.latent_shape = (2, 4, 4)
        self.net = nn.Conv2d(1, 2, 4, stride=2, padding=1)

    def encode(self, x, cond=None):
        return self.net(x) * 30.0  # latents far from unit scale: the scale is measured


class GridDecoder(Generator):
    def __init__(self):
        super().__init__()
        self.latent_shape, self.data_shape = (2, 4, 4), (1, 8, 8)
        self.net = nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1)

    def forward(self, z, cond=None):
        return self.net(z / 30.0)


class TinyGridAE(GenerativeModel):
    """A deterministic conv autoencoder with a latent grid; ``conditional`` claims labels."""

    @dataclass
    class Config:
        conditional: bool = False

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.encoder, self.decoder = GridEncoder(), GridDecoder()

    @property
    def conditional(self) -> bool:
        return bool(self.cfg.conditional)

    def losses(self, batch, player=None):
        x = batch["x"]
        return {"loss": (self.decoder(self.encoder.encode(x)) - x).pow(2).mean()}


@pytest.fixture(autouse=True)
def _tiny_ae_registered(fresh_plugins):
    genloom.register("model", "tiny-grid-ae", TinyGridAE)


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory):
    genloom.register("model", "tiny-grid-ae", TinyGridAE)
    run = tmp_path_factory.mktemp("ae") / "run"
    cfg = load_config(None, ["model.name=tiny-grid-ae", f"output_dir={run}", "trainer.max_steps=10", *QUIET])
    return train(cfg, echo=None).checkpoint


@pytest.mark.parametrize("shape", [(2, 4, 4), (3, 7, 7), (5,), (1, 1, 1)])
def test_the_unet_runs_on_any_square_grid_and_on_flat_latents(shape):
    """Sides that are not multiples of 4 are padded and cropped; a flat latent is a 1x1 grid."""
    text = build_model(load_config(None, ["model.name=t2i", *SMALL], check_trainer=False),
                       DataInfo(kind="image", shape=(1, 8, 8))).text_encoder
    net = CrossAttentionUNet(shape, text, channels=8, heads=2, pooled=True)
    x = torch.randn(3, *shape)
    out = net(x, torch.tensor([1, 5, 9]), text.tokenize(["a 3", "a 4", ""]))
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="square"):
        CrossAttentionUNet((1, 4, 6), text)


def test_latent_t2i_trains_samples_and_exports_without_the_first_stage(autoencoder, tmp_path):
    ae = tmp_path / "ae.ckpt"
    ae.write_bytes(autoencoder.read_bytes())
    cfg = load_config(None, ["model.name=t2i", *SMALL, f"model.latent.checkpoint={ae}",
                             f"output_dir={tmp_path / 'run'}", "trainer.max_steps=4", *QUIET])
    result = train(cfg, echo=None)
    model, stage = result.model, result.model.first_stage
    assert model.sample_shape == (2, 4, 4) and isinstance(stage.encoder, GridEncoder)
    saved = load_config(result.run_dir / "config.yaml", check_trainer=False)
    assert saved.model.latent.model.name == "local:tiny-grid-ae" and saved.model.latent.info["shape"] == [1, 8, 8]
    assert bool(stage.measured) and 0.01 < float(stage.scale) < 1.0  # latents far too wide: measured
    _, weights = read_weights(ae)
    assert torch.equal(stage.encoder.net.weight, weights["encoder.net.weight"])  # frozen
    assert not any(p.requires_grad for p in stage.parameters())

    ae.unlink()  # sampling and export need only this run
    loaded = load_checkpoint(result.run_dir)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = draw(loaded, 4, prompt="a thin 3 leaning left", steps=3, generator=g()).data
    assert a.shape == (4, 1, 8, 8) and torch.isfinite(a).all()
    assert torch.equal(a, draw(loaded, 4, prompt="a thin 3 leaning left", steps=3, generator=g()).data)
    export(result.checkpoint, tmp_path / "export")
    exported = load_checkpoint(tmp_path / "export")
    assert torch.equal(a, draw(exported, 4, prompt="a thin 3 leaning left", steps=3, generator=g()).data)


@torch.no_grad()
def test_the_prompt_changes_latent_samples(autoencoder):
    model = build_model(load_config(None, ["model.name=t2i", *SMALL, f"model.latent.checkpoint={autoencoder}"],
                                    check_trainer=False), DataInfo(kind="image", shape=(1, 8, 8))).eval()
    for p in model.denoiser.parameters():  # a fresh model: make its prompt paths matter
        p.add_(torch.randn_like(p) * 0.05)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = draw(model, 2, prompt="a thin 3", steps=3, generator=g()).data
    b = draw(model, 2, prompt="a thick 8", steps=3, generator=g()).data
    assert a.shape == (2, 1, 8, 8) and not torch.allclose(a, b)
    assert model.x0_range is None  # latents are not clipped to the image range


def test_bad_first_stages_are_one_line_errors(autoencoder, tmp_path):
    base = ["model.name=t2i", *SMALL]
    digits = DataInfo(kind="image", shape=(1, 8, 8))

    def build(*overrides: str, info: DataInfo = digits):
        return build_model(load_config(None, [*base, *overrides], check_trainer=False), info)

    with pytest.raises(CheckpointError, match="does not exist"):
        build(f"model.latent.checkpoint={tmp_path / 'no.ckpt'}")
    with pytest.raises(ConfigError, match="model.latent.checkpoint was trained on data of shape"):
        build(f"model.latent.checkpoint={autoencoder}", info=DataInfo(kind="image", shape=(1, 16, 16)))
    conditional = tmp_path / "cond"
    train(load_config(None, ["model.name=tiny-grid-ae", "model.conditional=true", f"output_dir={conditional}",
                             "trainer.max_steps=1", *QUIET]), echo=None)
    with pytest.raises(ConfigError, match="class-conditional autoencoder"):
        build(f"model.latent.checkpoint={conditional}")


#: a random-weight AutoencoderKL of genloom-diffusion (a t2i dependency) as the first stage,
#: given as the config and data info a trained run copies in: no checkpoint file needed
KL_STAGE = ("model.latent={model: {name: diffusion:diffusers_vae, sample_size: 8, in_channels: 1, "
            "out_channels: 1, latent_channels: 2, block_out_channels: [8, 8], norm_num_groups: 4, "
            "down_block_types: [DownEncoderBlock2D, DownEncoderBlock2D], "
            "up_block_types: [UpDecoderBlock2D, UpDecoderBlock2D]}, "
            "info: {kind: image, shape: [1, 8, 8]}, scale: 0.5}")


@parametrize_with_checks([
    Case("t2i", DataInfo(kind="image", shape=(1, 8, 8), num_classes=10,
                         class_names=[str(i) for i in range(10)]), [*SMALL, KL_STAGE], id="t2i-latent-kl"),
])
def test_latent_t2i_conformance(case, check):
    check(case)
