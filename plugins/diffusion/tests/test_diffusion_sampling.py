"""The samplers through a model: seeding, options, guidance, clipping, errors, progress."""

from dataclasses import dataclass

import pytest
import torch

import genloom
from genloom import DataInfo, Denoiser, IncompatibleSamplerError, load_config
from genloom.build import build_model
from genloom.errors import ConfigError
from genloom.sampling import get_sampler

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
POINTS = DataInfo(kind="points", shape=(2,))
SAMPLERS = ["ddpm", "ddim", "dpmpp_2m"]


def build(info, overrides, denoiser=("model.denoiser.name=mlp", "model.denoiser.hidden=16")):
    cfg = load_config(None, ["model.name=diffusion", "model.timesteps=100", *denoiser, *overrides],
                      check_trainer=False)
    return build_model(cfg, info)


def points_model(*overrides, **kwargs):
    return build(POINTS, overrides, **kwargs)


def digits_model(*overrides, **kwargs):
    return build(DIGITS, overrides, **kwargs)


def draw(model, seed, **options):
    return model.sample(6, generator=torch.Generator().manual_seed(seed), **options).data


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_seeded_sampling_is_deterministic(sampler):
    model = points_model()
    with torch.no_grad():  # an untrained output layer would make every sampler trivial
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.manual_seed(123)  # the global RNG must not matter
    a = draw(model, 1, sampler=sampler)
    torch.manual_seed(456)
    b = draw(model, 1, sampler=sampler)
    c = draw(model, 2, sampler=sampler)
    assert a.shape == (6, 2) and torch.equal(a, b) and not torch.equal(a, c)


def test_stochastic_ddim_is_seeded_too_and_any_step_count_works():
    model = points_model()
    a, b = draw(model, 0, sampler="ddim", eta=1.0, steps=7), draw(model, 0, sampler="ddim", eta=1.0, steps=7)
    assert torch.equal(a, b)
    assert not torch.equal(a, draw(model, 0, sampler="ddim", eta=0.0, steps=7))
    for steps in (1, 3, 33, 100):
        assert torch.isfinite(draw(model, 0, sampler="ddim", steps=steps)).all()


def test_ddim_with_every_step_and_eta_1_is_ddpm():
    """At eta=1 DDIM's step has DDPM's posterior variance; both draw the same noise."""
    model = points_model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ddpm = draw(model, 5, sampler="ddpm")
    ddim = draw(model, 5, sampler="ddim", eta=1.0, steps=100)
    assert torch.allclose(ddpm, ddim, atol=1e-4)


class ConstantX0(Denoiser):
    """Predicts the clean data 5.0 everywhere: far outside the image range."""

    prediction = "x0"

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, data_shape, num_classes=0, timesteps=1000):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x_t, t, cond=None):
        return torch.full_like(x_t, 5.0) * self.w


def test_predicted_x0_is_clipped_for_images_by_default():
    genloom.register("denoiser", "constant-x0", ConstantX0)
    images = digits_model(denoiser=["model.denoiser.name=constant-x0"])
    points = points_model(denoiser=["model.denoiser.name=constant-x0"])
    for sampler in SAMPLERS:
        assert torch.allclose(draw(images, 0, sampler=sampler, steps=10), torch.ones(6, 1, 8, 8))
        assert torch.allclose(draw(images, 0, sampler=sampler, steps=10, clip=False),
                              torch.full((6, 1, 8, 8), 5.0), atol=1e-4)
        assert torch.allclose(draw(points, 0, sampler=sampler, steps=10), torch.full((6, 2), 5.0), atol=1e-4)
        assert torch.allclose(draw(points, 0, sampler=sampler, steps=10, clip=True), torch.ones(6, 2))


def test_guidance_combines_conditional_and_unconditional_outputs():
    model = digits_model("model.conditional=true").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    sampler = get_sampler("ddim")
    cond = torch.tensor([3, 7])
    x, t = torch.randn(2, 1, 8, 8), 40
    den = model.component(Denoiser)
    c = den(x, torch.full((2,), t), cond)
    u = den(x, torch.full((2,), t), torch.full((2,), 10))  # 10: "no label"
    run = sampler.start(model, 2, cond, guidance=3.0, clip=None)
    assert torch.allclose(run.predict(x, t), u + 3.0 * (c - u), atol=1e-5)
    plain = sampler.start(model, 2, cond, guidance=1.0, clip=None)
    assert torch.allclose(plain.predict(x, t), c, atol=1e-6)
    uncond = sampler.start(model, 2, None, guidance=1.0, clip=None)
    assert torch.allclose(uncond.predict(x, t), u, atol=1e-6)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    guided = model.sample(2, cond=cond, guidance=3.0, steps=5, generator=g()).data
    assert not torch.allclose(guided, model.sample(2, cond=cond, steps=5, generator=g()).data)


def test_guidance_and_labels_are_checked():
    with pytest.raises(ConfigError, match="needs a conditional model"):
        points_model().sample(2, guidance=2.0)
    no_dropout = digits_model("model.conditional=true", "model.cond_dropout=0")
    with pytest.raises(ConfigError, match="condition dropout"):
        no_dropout.sample(2, cond=torch.tensor([1, 2]), guidance=2.0)
    with pytest.raises(ConfigError, match="pass class labels"):
        no_dropout.sample(2)
    with pytest.raises(ConfigError, match="--cond"):
        digits_model("model.conditional=true").sample(2, guidance=2.0)
    with pytest.raises(ConfigError, match="must be a number"):
        points_model().sample(2, sampler="ddim", guidance="lots")


@pytest.mark.parametrize("steps", [0, 101, 2.5, "ten"])
def test_step_counts_are_checked(steps):
    with pytest.raises(ConfigError, match="steps must be a whole number from 1 to 100"):
        points_model().sample(2, sampler="ddim", steps=steps)


def test_unknown_options_and_incompatible_pairs_are_clear_errors():
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        points_model().sample(2, sampler="ddim", stpes=10)
    with pytest.raises(ConfigError, match="eta must be a number between 0 and 1"):
        points_model().sample(2, sampler="ddim", eta=2.0)
    with pytest.raises(IncompatibleSamplerError, match="drives a Generator"):
        points_model().sample(2, sampler="prior")
    vae = build_model(load_config(None, ["model.name=vae"], check_trainer=False), POINTS)
    with pytest.raises(IncompatibleSamplerError, match="drives a Denoiser"):
        vae.sample(2, sampler="ddim")


def test_progress_bar_shows_while_sampling(monkeypatch, capsys):
    model = points_model()
    monkeypatch.setenv("GENLOOM_PROGRESS", "1")
    draw(model, 0, sampler="ddim", steps=5)
    assert "ddim" in capsys.readouterr().err
    monkeypatch.setenv("GENLOOM_PROGRESS", "0")
    draw(model, 0, sampler="ddim", steps=5)
    assert capsys.readouterr().err == ""
