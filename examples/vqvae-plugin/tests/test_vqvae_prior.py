"""Stage 2 (``vq-prior``): a registered language model over a vqvae's codes.

The first stage here is built from its config (``first_stage.model``/``info``, as a
trained run's checkpoint stores them), so no stage-1 training is needed; the CLI test
composes a real stage-1 run. The prior is named in config and built through the
registry: the in-house ``transformer`` by default, ``rnn`` in one test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

import genloom
from genloom import ConfigError, DataInfo, Encoder, GenerativeModel, Generator, load_config
from genloom.build import build_model
from genloom_devkit.testing import Case, check_model, parametrize_with_checks

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
K, GRID = 8, 2  # 8 codes, a 2x2 grid: 4 codes per image
FIRST_STAGE = [
    "model.first_stage.model.name=vqvae", f"model.first_stage.model.num_codes={K}",
    f"model.first_stage.model.grid={GRID}", "model.first_stage.model.channels=8",
    "model.first_stage.model.code_dim=4", "model.first_stage.info.kind=image",
    "model.first_stage.info.shape=[1,8,8]",
]
TINY_PRIOR = ["model.prior.width=32", "model.prior.layers=1", "model.prior.heads=2"]


def overrides(*extra: str) -> list[str]:
    return [*FIRST_STAGE, *TINY_PRIOR, *extra]


def vq_prior(*extra: str):
    cfg = load_config(None, ["model.name=vq-prior", *overrides(*extra)], check_trainer=False)
    return build_model(cfg, DIGITS)


def codes_of(label: int) -> list[int]:
    """The synthetic rule the conditional prior must learn: the label fixes the codes."""
    return [(label * 3 + i) % K for i in range(GRID * GRID)]


def test_the_prior_is_a_registered_language_model_over_bos_and_codes():
    model = vq_prior()
    assert type(model.prior).__module__.startswith("genloom_transformer")
    assert model.prior.info.vocab_size == K + 1 and model.prior.info.shape == (GRID * GRID + 1,)
    assert model.prior.start_tokens == [K]
    assert model.prior_options == {"max_new_tokens": GRID * GRID}
    tokens = model.code_tokens(torch.rand(5, 1, 8, 8) * 2 - 1)
    assert tokens.shape == (5, 5) and (tokens[:, 0] == K).all() and int(tokens[:, 1:].max()) < K
    assert not any(p.requires_grad for p in model.first_stage.parameters())


def test_samples_decode_to_the_data_shape_and_never_hold_the_start_token():
    model = vq_prior()  # untrained: without the mask it would draw BOS once in K + 1 tokens
    out = model.sample(64, generator=torch.Generator().manual_seed(0))
    assert out.data.shape == (64, 1, 8, 8) and out.kind == "image"
    latents = out.extras["latents"]
    assert latents.shape == (64, 1 + GRID * GRID) and (latents[:, 0] == K).all()
    assert int(latents[:, 1:].max()) < K
    expected = model.first_stage.decode(latents[:, 1:].reshape(64, GRID, GRID))
    torch.testing.assert_close(out.data, expected)


def test_prior_options_reach_the_priors_sampler():
    model = vq_prior()
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    top1 = model.sample(4, prior={"top_k": 1}, generator=g()).extras["latents"]
    greedy = model.sample(4, prior_sampler="greedy", generator=g()).extras["latents"]
    assert torch.equal(top1, greedy) and torch.equal(greedy[0], greedy[3])
    beam = model.sample(2, prior_sampler="beam", prior={"beams": 2}).extras["latents"]
    assert beam.shape == (2, 5) and int(beam[:, 1:].max()) < K
    with pytest.raises(ConfigError, match="leave prior.max_new_tokens at 4"):
        model.sample(2, prior={"max_new_tokens": 3})


def test_a_conditional_prior_honours_every_rows_label():
    torch.manual_seed(0)
    model = vq_prior("model.conditional=true")
    assert model.conditional and model.prior.conditional
    labels = torch.arange(10).repeat(4)
    tokens = torch.tensor([[K, *codes_of(int(c))] for c in labels])
    opt = torch.optim.Adam(model.prior.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = model.prior.losses({"x": tokens, "y": labels})["loss"]
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05
    cond = torch.tensor([3, 0, 9, 5, 1, 7, 2, 8, 6, 4, 3, 3])
    for options in ({"prior": {"temperature": 0.5}}, {"prior_sampler": "greedy"}):
        out = model.sample(len(cond), cond=cond, generator=torch.Generator().manual_seed(1), **options)
        assert out.extras["latents"][:, 1:].tolist() == [codes_of(int(c)) for c in cond]
        assert out.data.shape == (len(cond), 1, 8, 8) and out.cond.tolist() == cond.tolist()
    with pytest.raises(ConfigError, match="class-conditional"):
        model.sample(2)


@parametrize_with_checks([
    Case("vq-prior", DIGITS, overrides(), id="vq-prior"),
    Case("vq-prior", DIGITS, overrides("model.conditional=true"), id="vq-prior-conditional"),
])
def test_vq_prior_conformance(case, check):
    check(case)


def test_any_registered_language_model_is_a_prior_by_name():
    rnn = ["model.prior.name=rnn", "model.prior.hidden=16", "model.prior.layers=1"]
    model = check_model("vq-prior", DIGITS, [*FIRST_STAGE, *rnn])
    assert type(model.prior).__module__.startswith("genloom_rnn")
    cfg = load_config(None, ["model.name=vq-prior", *FIRST_STAGE, *rnn, "model.conditional=true"],
                      check_trainer=False)
    with pytest.raises(ConfigError, match="the prior 'rnn:rnn' has no conditional option"):
        build_model(cfg, DIGITS)


@pytest.mark.parametrize("extra, message", [
    (["model.prior.conditional=true"], "set model.conditional=true"),
    (["model.conditional=true", "data.name=toy2d"], "needs a dataset with class labels"),
])
def test_inconsistent_condition_settings_are_config_errors(extra, message):
    info = DataInfo(kind="image", shape=(1, 8, 8)) if "data.name=toy2d" in extra else DIGITS
    extra = [e for e in extra if not e.startswith("data.")]
    cfg = load_config(None, ["model.name=vq-prior", *overrides(*extra)], check_trainer=False)
    with pytest.raises(ConfigError, match=message):
        build_model(cfg, info)


def test_a_first_stage_is_required_and_must_make_codes():
    with pytest.raises(ConfigError, match="model.first_stage.checkpoint is required"):
        build_model(load_config(None, ["model.name=vq-prior"], check_trainer=False), DIGITS)
    genloom.register("model", "vqtest-ae", PlainAE)
    cfg = load_config(None, [
        "model.name=vq-prior", "model.first_stage.model.name=vqtest-ae",
        "model.first_stage.info.kind=image", "model.first_stage.info.shape=[1,8,8]",
    ], check_trainer=False)
    with pytest.raises(ConfigError, match="makes continuous latents, not codes"):
        build_model(cfg, DIGITS)


class PlainEncoder(Encoder):
    latent_shape = (2,)

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(64, 2)

    def encode(self, x, cond=None):
        return self.net(x.flatten(1))


class PlainDecoder(Generator):
    latent_shape, data_shape = (2,), (1, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 64)

    def forward(self, z, cond=None):
        return self.net(z).view(len(z), 1, 8, 8)


class PlainAE(GenerativeModel):
    """A continuous autoencoder: a first stage a code prior cannot use."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, info) -> None:
        super().__init__(cfg, info)
        self.encoder, self.decoder = PlainEncoder(), PlainDecoder()
