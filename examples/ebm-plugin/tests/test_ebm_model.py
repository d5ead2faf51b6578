"""The ebm model and its energy networks: registration, the conformance kit, the
denoising score matching objective, and one-line errors for bad options."""

from pathlib import Path

import pytest
import torch

from genloom import ConfigError, DataInfo, build_model, load_config
from genloom.kinds import SampleKind
from genloom_devkit.testing import Case, parametrize_with_checks

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
POINTS = DataInfo(kind="points", shape=(2,))
SMALL_MLP = ["model.energy.hidden=16", "model.energy.layers=1", "model.levels=3"]
SMALL_CONV = ["model.energy.name=conv", "model.energy.channels=8", "model.levels=3"]


def ebm(info, *overrides):
    cfg = load_config(None, ["model.name=ebm", *overrides], check_trainer=False)
    return build_model(cfg, info)


def test_the_installed_package_is_tested_and_registers_everything():
    import genloom_ebm
    from genloom.plugins import get_plugin_host

    assert "site-packages" in Path(genloom_ebm.__file__).parts  # not the source tree
    info = get_plugin_host().plugins["ebm"]
    assert info.status == "ok", info.error
    assert {"model:ebm", "energy:mlp", "energy:conv", "sampler:langevin",
            "sampler:euler_ancestral", "sampler:heun"} <= set(info.components)


# three steps per level keep it fast; the suite also checks the entry module's weight
@parametrize_with_checks([
    Case("ebm", POINTS, [*SMALL_MLP, "model.sigma_max=2.0"], id="ebm-points"),
    Case("ebm", DIGITS, [*SMALL_MLP, "model.sigma_max=2.0"], id="ebm-mlp"),
    # about 40 s quiet: Langevin through a conv net
    Case("ebm", DIGITS, [*SMALL_CONV, "model.sigma_max=2.0"], id="ebm-conv", marks=(pytest.mark.slow,)),
])
def test_ebm_conformance(case, check):
    check(case)


@pytest.mark.parametrize("info,overrides", [(POINTS, SMALL_MLP), (DIGITS, SMALL_CONV)])
def test_energy_is_one_scalar_per_example_and_twice_differentiable(info, overrides):
    from genloom_ebm.energy import EnergyNetwork, energy_grad

    model = ebm(info, *overrides)
    net = model.component(EnergyNetwork)
    x = torch.randn(5, *info.shape)
    assert net.energy(x, torch.full((5,), 0.5)).shape == (5,)
    grad = energy_grad(net, x, 0.5, create_graph=True)
    assert grad.shape == x.shape and grad.requires_grad
    grad.pow(2).sum().backward()  # what training does: differentiate the score
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def dsm_loss_of_gaussian_score(data_std, model_std, levels) -> float:
    """The expected DSM loss (per dimension) of the score -x~/(m^2 + sigma^2) on
    N(0, s^2) data: the residual sigma * score + z = z - sigma (x + sigma z) / (m^2 + sigma^2)
    has variance (1 - sigma^2 / S)^2 + sigma^2 s^2 / S^2 with S = m^2 + sigma^2."""
    s2, m2, sig2 = data_std**2, model_std**2, torch.tensor(levels, dtype=torch.float64) ** 2
    big = m2 + sig2
    return float(0.5 * ((1 - sig2 / big) ** 2 + sig2 * s2 / big**2).mean())


@pytest.mark.parametrize("model_std", [0.7, 2.0, 0.2])
def test_loss_is_denoising_score_matching(model_std):
    """With the learned part zeroed, the energy is the fixed quadratic, whose score is
    the exact one of N(0, sigma_data^2) data; the loss must be the analytic DSM loss,
    smallest when sigma_data is the data's true scale (0.7)."""
    model = ebm(POINTS, *SMALL_MLP, f"model.energy.sigma_data={model_std}")
    torch.nn.init.zeros_(model.energy_net.out[-1].weight)
    torch.manual_seed(0)
    loss = model.losses({"x": 0.7 * torch.randn(20000, 2)})["loss"].item()
    expected = 2 * dsm_loss_of_gaussian_score(0.7, model_std, model.noise_levels)  # d = 2
    assert loss == pytest.approx(expected, rel=0.03)
    assert expected >= 2 * dsm_loss_of_gaussian_score(0.7, 0.7, model.noise_levels)


def test_loss_works_under_no_grad_and_inference_mode():
    """Validation runs in inference mode and evaluate under no_grad; the objective needs
    autograd on x all the same, and must give the same value."""
    model = ebm(DIGITS, *SMALL_CONV)
    batch = {"x": torch.rand(8, 1, 8, 8) * 2 - 1}
    torch.manual_seed(3)
    with_grad = model.losses(batch)["loss"]
    assert with_grad.requires_grad
    for context in (torch.no_grad, torch.inference_mode):
        torch.manual_seed(3)
        with context():
            inside = {"x": batch["x"].clone()}  # an inference tensor under inference_mode
            value = model.losses(inside)["loss"]
        assert not value.requires_grad
        assert torch.allclose(value, with_grad.detach(), rtol=1e-5)


def test_training_approaches_the_optimal_loss():
    """Data N((0.5, 0), diag(1, 0.2^2)): the best possible DSM loss is known (the exact
    score's), and a few dozen steps must close most of the gap to it."""
    torch.manual_seed(0)
    model = ebm(POINTS, *SMALL_MLP)
    x = torch.randn(256, 2) * torch.tensor([1.0, 0.2]) + torch.tensor([0.5, 0.0])
    best = sum(dsm_loss_of_gaussian_score(s, s, model.noise_levels) for s in (1.0, 0.2))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        torch.manual_seed(1)  # the same noise each time: a fixed objective
        return model.losses({"x": x.repeat(8, 1)})["loss"]

    first = loss().item()
    for _ in range(60):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() - best < 0.5 * (first - best)


@pytest.mark.parametrize("overrides,message", [
    (["model.sigma_min=0"], "0 < sigma_min < sigma_max"),
    (["model.sigma_max=0.001"], "0 < sigma_min < sigma_max"),
    (["model.levels=1"], "levels must be a whole number of at least 2"),
    (["model.energy.sigma_data=-1"], "sigma_data must be a positive number"),
    (["model.energy.hidden=1"], "energy mlp needs hidden >= 2"),
    (["model.energy.name=conv", "model.energy.channels=0"], "channels must be at least 1"),
])
def test_bad_model_options_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        ebm(DIGITS, *overrides)
    assert "\n" not in str(info.value)


def test_conv_energy_refuses_points_and_ebm_refuses_tokens():
    with pytest.raises(ConfigError, match="square power-of-two images"):
        ebm(POINTS, "model.energy.name=conv")
    with pytest.raises(ConfigError, match="not 'tokens' data"):
        ebm(DataInfo(kind="tokens", shape=(8,), vocab_size=5))


class Roll(SampleKind):
    """A plugin's continuous kind: piano rolls in [-1, 1]."""

    name = "roll"
    suffixes = (".npy",)
    value_range = (-1.0, 1.0)


def test_a_plugins_continuous_kind_is_modelled_and_clipped_to_its_range():
    """The model reads the sample kind's ``continuous`` and ``value_range``, not its name:
    a plugin's kind of real-valued data (piano rolls in [-1, 1]) trains and samples."""
    from genloom import Samples, register

    register("sample_kind", "roll", Roll)
    model = ebm(DataInfo(kind="roll", shape=(1, 4, 4)), *SMALL_MLP)
    assert model.data_range == 1.0
    assert ebm(POINTS, *SMALL_MLP).data_range is None
    samples = model.sample(3, generator=torch.Generator().manual_seed(0), steps_per_level=2)
    assert isinstance(samples, Samples) and samples.data.shape == (3, 1, 4, 4)
    assert samples.data.abs().max() <= 1.0
