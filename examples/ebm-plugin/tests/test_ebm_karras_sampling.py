"""Euler ancestral and Heun drive any genloom_diffusion.DenoisingModel: one written here whose
denoiser is exact (so the samples' distribution is known), and the in-house
``diffusion`` model, reached only by name through the config and registry."""

import pytest
import torch
from torch import Tensor, nn

from genloom import ConfigError, DataInfo, Denoiser, GenerativeModel, build_model, load_config
from genloom_diffusion import DenoisingModel, NoiseSchedule

T = 200
MEAN, STD = torch.tensor([1.0, -2.0]), 0.5
SAMPLERS = ["ebm:euler_ancestral", "ebm:heun"]


def linear_schedule() -> NoiseSchedule:
    return NoiseSchedule(torch.cumprod(1 - torch.linspace(1e-4, 0.1, T, dtype=torch.float64), 0))


class ExactDenoiser(Denoiser):
    """The exact noise prediction for data ``N(MEAN, STD^2 I)``:
    ``E[eps | x_t] = s_t (x_t - a_t MEAN) / (a_t^2 STD^2 + s_t^2)``."""

    prediction = "eps"

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.register_buffer("abar", schedule.alphas_cumprod.float())
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, as samplers find dtype/device by it

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        abar = self.abar[t][:, None]
        a, s = abar.sqrt(), (1 - abar).sqrt()
        return self.scale * s * (x_t - a * MEAN) / (abar * STD**2 + s * s)


class ExactModel(GenerativeModel):
    """A DenoisingModel from outside every plugin: schedule, denoiser, shape, no labels."""

    default_sampler = "ebm:heun"

    def __init__(self) -> None:
        super().__init__(None, DataInfo(kind="points", shape=(2,)))
        self.noise_schedule = linear_schedule()
        self.denoiser = ExactDenoiser(self.noise_schedule)
        self.sample_shape = (2,)
        self.null_label = None
        self.x0_range = None

    def to_data(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x


def draw(model, sampler, n=4, seed=0, cond=None, **options):
    return model.sample(n, sampler=sampler, cond=cond, generator=torch.Generator().manual_seed(seed),
                        **options).data


@pytest.mark.parametrize("sampler,steps,tolerance", [("ebm:euler_ancestral", T, 0.04),
                                                     ("ebm:heun", 50, 0.03)])
def test_with_an_exact_denoiser_samples_have_the_datas_distribution(sampler, steps, tolerance):
    model = ExactModel()
    assert isinstance(model, DenoisingModel)
    x = draw(model, sampler, n=4000, steps=steps)
    # standard errors with 4000 samples: 0.008 (mean), 0.006 (std); the first-order
    # ancestral scheme keeps a bias of about 0.02 in the std even at every timestep
    assert (x.mean(0) - MEAN).abs().max() < 0.03
    assert (x.std(0) - STD).abs().max() < tolerance


def test_euler_is_first_order_and_heun_second_order():
    """Deterministic Euler (eta=0) and Heun integrate the same ODE from the same start:
    doubling the steps halves Euler's error and quarters Heun's (against Heun at every
    timestep, the most accurate solution at hand)."""
    model = ExactModel()
    exact = draw(model, "ebm:heun", n=256, steps=T)

    def error(sampler: str, steps: int, **options) -> float:
        return (draw(model, sampler, n=256, steps=steps, **options) - exact).abs().max().item()

    euler = error("ebm:euler_ancestral", 50, eta=0.0) / error("ebm:euler_ancestral", 100, eta=0.0)
    heun = error("ebm:heun", 20) / error("ebm:heun", 40)
    assert 1.7 < euler < 2.3  # measured 1.97
    assert 3.5 < heun < 6.0  # measured 4.43


def tiny_diffusion(info, *overrides):
    torch.manual_seed(0)  # the weights: an unseeded draw sometimes left Heun's samples inside [-1, 1]
    cfg = load_config(None, [
        "model.name=diffusion", "model.denoiser.name=mlp", "model.denoiser.hidden=16",
        "model.denoiser.blocks=1", "model.timesteps=50", "model.schedule.name=cosine", *overrides,
    ], check_trainer=False)
    return build_model(cfg, info)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_the_in_house_diffusion_model_samples_with_equal_seeds_equal(sampler):
    model = tiny_diffusion(DataInfo(kind="points", shape=(2,)))
    a, b, c = (draw(model, sampler, seed=s, steps=7) for s in (1, 1, 2))
    assert a.shape == (4, 2) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("steps", [7, 50])
def test_deterministic_euler_in_sigma_is_the_in_house_ddim(steps):
    """DDIM at eta=0 is exactly Euler's method for the ODE in sigma (Karras et al. 2022,
    sec. 3): two independent implementations, one result."""
    model = tiny_diffusion(DataInfo(kind="points", shape=(2,)))
    ddim = draw(model, "diffusion:ddim", n=64, steps=steps, eta=0.0)
    euler = draw(model, "ebm:euler_ancestral", n=64, steps=steps, eta=0.0)
    assert torch.allclose(euler, ddim, rtol=1e-4, atol=1e-4 * ddim.abs().max().item())


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_images_are_clipped_and_guidance_reaches_the_denoiser(sampler):
    model = tiny_diffusion(DataInfo(kind="image", shape=(1, 8, 8), num_classes=10),
                           "model.conditional=true")
    cond = torch.tensor([1, 7, 7, 3])
    plain = draw(model, sampler, cond=cond, steps=5)
    guided = draw(model, sampler, cond=cond, steps=5, guidance=3.0)
    assert plain.shape == (4, 1, 8, 8) and plain.abs().max() <= 1.0  # x0 clipped, the last step lands on it
    assert not torch.equal(plain, guided)
    unclipped = draw(model, sampler, cond=cond, steps=5, clip=False)
    assert unclipped.abs().max() > 1.0  # an untrained denoiser: clipping did something


@pytest.mark.parametrize("options,message", [
    ({"steps": 0}, "steps must be a whole number from 1 to 50"),
    ({"eta": 1.5}, "eta must be a number between 0 and 1"),
    ({"clip": 1}, "clip must be true or false"),
    ({"guidance": 2.0}, "guidance needs a conditional model"),
])
def test_bad_options_are_one_line_config_errors(options, message):
    sampler = "ebm:euler_ancestral"
    with pytest.raises(ConfigError, match=message) as info:
        draw(tiny_diffusion(DataInfo(kind="points", shape=(2,))), sampler, **options)
    assert "\n" not in str(info.value)


def test_heun_has_no_eta_and_a_model_without_a_denoiser_is_refused():
    from genloom import IncompatibleSamplerError

    with pytest.raises(ConfigError, match="has no option 'eta'"):
        draw(ExactModel(), "ebm:heun", eta=0.5)
    ebm = build_model(load_config(None, ["model.name=ebm", "model.levels=2"], check_trainer=False),
                      DataInfo(kind="points", shape=(2,)))
    with pytest.raises(IncompatibleSamplerError, match="Denoiser"):
        draw(ebm, "ebm:heun")
