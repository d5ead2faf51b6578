"""A third party's Denoiser trains and samples with the diffusion plugin's schedules,
objective and samplers, though nothing in the diffusion plugin knows it exists.

The throwaway plugin below is installed the way pip would (a dist-info folder with an
entry point); it imports only genloom and torch, never genloom_diffusion.
"""

import textwrap

import pytest
import torch

from support import make_plugin

PLUGIN = """
    from genloom import hookimpl

    @hookimpl
    def genloom_register_components(register):
        register("denoiser", "toy-dit", "gltest_toydit_net:ToyDiT",
                 help="a one-layer transformer over 2x2 patches, predicting v")
"""

NETWORK = """
    import math
    from dataclasses import dataclass

    import torch
    from torch import nn

    from genloom import Denoiser


    class ToyDiT(Denoiser):
        prediction = "v"

        @dataclass
        class Config:
            width: int = 32
            patch: int = 2

        def __init__(self, cfg, data_shape, num_classes=0, timesteps=1000):
            super().__init__()
            c, h, w = data_shape
            self.p, self.shape, self.width = cfg.patch, tuple(data_shape), cfg.width
            self.embed = nn.Linear(c * cfg.patch ** 2, cfg.width)
            self.pos = nn.Parameter(torch.zeros((h // cfg.patch) * (w // cfg.patch), cfg.width))
            self.labels = nn.Embedding(num_classes + 1, cfg.width) if num_classes else None
            self.block = nn.TransformerEncoderLayer(cfg.width, 2, 2 * cfg.width, 0.0, batch_first=True)
            self.out = nn.Linear(cfg.width, c * cfg.patch ** 2)

        def forward(self, x_t, t, cond=None):
            n, c, h, w = x_t.shape
            p = self.p
            tokens = x_t.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c * p * p)
            freqs = torch.exp(-math.log(1e4) * torch.arange(self.width // 2) / (self.width // 2))
            args = t.float()[:, None] * freqs[None].to(x_t.device)
            temb = torch.cat([args.sin(), args.cos()], 1)
            if self.labels is not None and cond is not None:
                temb = temb + self.labels(cond)
            h_ = self.block(self.embed(tokens) + self.pos + temb[:, None])
            out = self.out(h_).reshape(n, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
            return out.reshape(n, c, h, w)
"""


@pytest.fixture
def toy_dit(plugin_dir):
    (plugin_dir / "gltest_toydit_net.py").write_text(textwrap.dedent(NETWORK))
    make_plugin(plugin_dir, "toydit", PLUGIN)
    return plugin_dir


def test_a_third_party_denoiser_trains_and_samples(toy_dit, tmp_path):
    from genloom import Denoiser, load_checkpoint, load_config, train
    from genloom.plugins import get_plugin_host

    assert get_plugin_host().plugins["toydit"].status == "ok"
    cfg = load_config(None, [
        "model.name=diffusion", "model.denoiser.name=toy-dit", "model.conditional=true",
        "data.name=digits", f"output_dir={tmp_path / 'run'}", "trainer.max_steps=8",
        "trainer.enable_progress_bar=false", "sample.n=4", "sample.options={steps: 2}",
    ])
    assert cfg.model.denoiser.name == "toydit:toy-dit"
    result = train(cfg, echo=None)
    model = result.model
    assert result.trainer.global_step == 8 and int(model.ema.n_averaged) == 8
    assert type(model.denoiser).__module__ == "gltest_toydit_net" and model.denoiser.prediction == "v"
    start = load_checkpoint(result.run_dir)  # rebuilt through the registry, weights loaded
    assert isinstance(start.component(Denoiser), Denoiser)
    cond = torch.tensor([1, 7, 7])
    for sampler, options in [("ddpm", {"steps": 5}), ("ddim", {"steps": 5, "guidance": 2.0}),
                             ("dpmpp_2m", {"steps": 5})]:
        a = start.sample(3, sampler=sampler, cond=cond, generator=torch.Generator().manual_seed(0), **options)
        b = start.sample(3, sampler=sampler, cond=cond, generator=torch.Generator().manual_seed(0), **options)
        assert a.data.shape == (3, 1, 8, 8) and torch.equal(a.data, b.data), sampler
        assert torch.isfinite(a.data).all()
