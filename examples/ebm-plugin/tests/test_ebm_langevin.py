"""Annealed Langevin dynamics on an energy whose answer is known in closed form.

The energy is the exact one of Gaussian data ``N(MU, COV)`` noised with ``sigma``:
``E(x, sigma) = (x - MU)^T (COV + sigma^2 I)^-1 (x - MU) / 2``, computed so that its
gradient needs autograd (the sampler must be given it by the core's ``needs_grad``).
At the last level the chains should be distributed as ``N(MU, COV + sigma_min^2 I)``.
"""

import math

import pytest
import torch
from torch import Tensor, nn

from genloom import ConfigError, DataInfo, GenerativeModel
from genloom_ebm.energy import EnergyNetwork, geometric_levels

MU = torch.tensor([1.5, -0.5])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]])  # correlation 0.85: far from diagonal


class GaussianEnergy(EnergyNetwork):
    """The noised-Gaussian energy; ``mu`` is a parameter, so the energy is a graph
    through module parameters like a trained network's."""

    data_shape = (2,)

    def __init__(self) -> None:
        super().__init__()
        self.mu = nn.Parameter(MU.clone())

    def energy(self, x: Tensor, sigma: Tensor) -> Tensor:
        a, b, c = COV[0, 0] + sigma**2, COV[0, 1], COV[1, 1] + sigma**2
        d0, d1 = (x - self.mu).unbind(1)
        return 0.5 * (c * d0 * d0 - 2 * b * d0 * d1 + a * d1 * d1) / (a * c - b * b)


class GaussianModel(GenerativeModel):
    """A model keeping the EnergyModel protocol, defined outside the plugin."""

    default_sampler = "ebm:langevin"

    def __init__(self, sigma_max: float = 5.0, sigma_min: float = 0.05, levels: int = 10) -> None:
        super().__init__(None, DataInfo(kind="points", shape=(2,)))
        self.net = GaussianEnergy()
        self.noise_levels = geometric_levels(sigma_max, sigma_min, levels)
        self.data_range = None


def draw(model, n, seed=0, **options):
    return model.sample(n, generator=torch.Generator().manual_seed(seed), **options).data


def exact_chain_moments(levels, steps_per_level, step_size, init=1.0):
    """Mean and covariance of the discretised chain after the last level. Each step is
    ``x <- A x + (a/2) P mu + sqrt(a) z`` with ``A = I - a P / 2``, so the mean follows
    ``m <- A m + (a/2) P mu`` and the covariance ``C <- A C A^T + a I``."""
    eye, mu = torch.eye(2, dtype=torch.float64), MU.double()
    mean, cov = torch.zeros(2, dtype=torch.float64), eye * (init * levels[0]) ** 2
    for sigma in levels:
        a = step_size * sigma**2
        precision = torch.linalg.inv(COV.double() + sigma**2 * eye)
        step = eye - 0.5 * a * precision
        for _ in range(steps_per_level):
            mean = step @ mean + 0.5 * a * precision @ mu
            cov = step @ cov @ step.T + a * eye
    return mean.float(), cov.float()


def test_langevin_recovers_mean_and_covariance_of_a_gaussian():
    model = GaussianModel()
    x = draw(model, 4000, steps_per_level=100, step_size=2.0, denoise=False)
    target = COV + model.noise_levels[-1] ** 2 * torch.eye(2)
    # standard errors with 4000 chains: 0.016 (mean), 0.022 (variance 1.0 entry); the
    # chain's own bias at these settings is 0.009 (exact_chain_moments)
    assert (x.mean(0) - MU).abs().max() < 0.05
    assert (torch.cov(x.T) - target).abs().max() < 0.08


def test_langevin_follows_the_exact_discrete_dynamics():
    # too few, too small steps to reach the target: the chains keep the extra variance
    # of the levels they stopped mixing at, exactly as the linear recursion predicts
    model = GaussianModel(sigma_min=0.01)
    x = draw(model, 4000, steps_per_level=20, step_size=0.1, denoise=False)
    mean, cov = exact_chain_moments(model.noise_levels, 20, 0.1)
    target = COV + 0.01**2 * torch.eye(2)
    assert (cov - target).abs().max() > 0.3  # the setting really is far from the target
    # standard errors with 4000 chains of variance up to 2.8: 0.027 (mean), 0.063 (variance)
    assert (x.mean(0) - mean).abs().max() < 0.1
    assert (torch.cov(x.T) - cov).abs().max() < 0.2


def test_denoise_is_one_tweedie_step():
    model = GaussianModel(sigma_min=0.3, levels=4)
    kw = dict(steps_per_level=5, step_size=0.5)
    raw, den = draw(model, 64, denoise=False, **kw), draw(model, 64, denoise=True, **kw)
    sigma = model.noise_levels[-1]
    precision = torch.linalg.inv(COV + sigma**2 * torch.eye(2))
    # Tweedie: E[x0 | x] = x + sigma^2 score(x) = x - sigma^2 P (x - mu)
    expected = raw - sigma**2 * (raw - MU) @ precision.T
    assert torch.allclose(den, expected, atol=1e-5)


def test_equal_seeds_equal_samples_and_different_seeds_differ():
    model = GaussianModel(levels=3)
    a, b, c = draw(model, 8, seed=1), draw(model, 8, seed=1), draw(model, 8, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_sampler_gets_autograd_under_no_grad_and_returns_detached_data():
    model = GaussianModel(levels=3)
    with torch.no_grad():
        out = draw(model, 16, steps_per_level=3)
    assert not out.requires_grad and torch.isfinite(out).all()
    assert model.net.mu.grad is None  # the chain differentiated x only


def test_images_are_clipped_to_the_data_range():
    class Wide(GaussianModel):
        def __init__(self) -> None:
            super().__init__(levels=3)
            self.info = DataInfo(kind="image", shape=(2,))
            self.data_range = 1.0

    out = draw(Wide(), 200, steps_per_level=3)
    assert out.abs().max() <= 1.0 and (out.abs() == 1.0).any()


@pytest.mark.parametrize("option,value,message", [
    ("steps_per_level", 0, "steps_per_level must be a whole number"),
    ("steps_per_level", 2.5, "steps_per_level must be a whole number"),
    ("step_size", -1.0, "step_size must be a positive number"),
    ("init", 0.0, "init must be a positive number"),
    ("denoise", 1, "denoise must be true or false"),
])
def test_bad_options_are_one_line_config_errors(option, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        draw(GaussianModel(levels=3), 2, **{option: value})
    assert "\n" not in str(info.value)


def test_labels_are_refused_rather_than_ignored():
    class Labelled(GaussianModel):
        conditional = True  # says so, but E(x, sigma) has no label input

    with pytest.raises(ConfigError, match="langevin sampler draws unconditional samples"):
        Labelled(levels=3).sample(2, cond=torch.tensor([0, 1]))


def test_a_model_without_an_energy_cannot_be_driven():
    from genloom import IncompatibleSamplerError

    class NoEnergy(GenerativeModel):
        noise_levels = (1.0, 0.1)

        def __init__(self) -> None:
            super().__init__(None, DataInfo(kind="points", shape=(2,)))
            self.lin = nn.Linear(2, 2)

    with pytest.raises(IncompatibleSamplerError, match="EnergyNetwork"):
        NoEnergy().sample(2, sampler="ebm:langevin")


def test_geometric_ladder():
    levels = geometric_levels(10.0, 0.01, 4)
    assert levels[0] == 10.0 and levels[-1] == 0.01
    ratios = [levels[i + 1] / levels[i] for i in range(3)]
    assert all(math.isclose(r, 0.1, rel_tol=1e-12) for r in ratios)
    with pytest.raises(ConfigError, match="0 < sigma_min < sigma_max"):
        geometric_levels(1.0, 2.0, 4)
    with pytest.raises(ConfigError, match="levels must be a whole number of at least 2"):
        geometric_levels(1.0, 0.1, 1)
