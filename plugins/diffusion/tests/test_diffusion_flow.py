"""Flow matching (model.objective=flow), its samplers, and continuous time in the
diffusion samplers (Karras spacing), through a model: the loss by hand, exact
solutions of simple velocity fields, the times the denoiser sees, seeding and errors."""

import math

import pytest
import torch

from genloom import DataInfo, IncompatibleSamplerError, load_config
from genloom.build import build_model
from genloom.errors import ConfigError

POINTS = DataInfo(kind="points", shape=(2,))
T = 100


def model(*overrides, flow=True):
    extra = ["model.objective=flow", "model.denoiser.prediction=v"] if flow else []
    cfg = load_config(None, ["model.name=diffusion", f"model.timesteps={T}", "model.denoiser.name=mlp",
                             "model.denoiser.hidden=16", "model.ema=false", *extra, *overrides],
                      check_trainer=False)
    return build_model(cfg, POINTS)


def spy(m, velocity):
    """Make ``m``'s denoiser return ``velocity(x, t)`` and record each call's ``t`` and mode."""
    calls = []

    def forward(x_t, t, cond=None):
        calls.append((t.clone(), torch.is_inference_mode_enabled()))
        return velocity(x_t, t)

    m.denoiser.forward = forward
    return calls


@pytest.mark.parametrize("flow_time", ["uniform", "logit_normal"])
def test_flow_loss_is_the_velocity_regression_by_hand(flow_time):
    m = model(f"model.flow_time={flow_time}")
    net = torch.nn.Linear(2, 2)
    seen = []
    m.denoiser.forward = lambda x_t, t, cond=None: (seen.append(t), net(x_t) * (1 + t[:, None] / T))[1]
    x = torch.randn(64, 2)
    torch.manual_seed(5)
    loss = m.losses({"x": x})["loss"]
    torch.manual_seed(5)  # replay the draws by hand
    s = torch.rand(64) if flow_time == "uniform" else torch.sigmoid(torch.randn(64))
    noise = torch.randn(64, 2)
    x_s = (1 - s[:, None]) * x + s[:, None] * noise
    expected = ((net(x_s) * (1 + (s * T)[:, None] / T)) - (noise - x)).pow(2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert seen[0].dtype.is_floating_point and torch.allclose(seen[0], s * T)  # continuous time


def test_flow_samplers_solve_simple_fields_exactly_and_see_scaled_times():
    m = model()
    c = torch.tensor([0.5, -2.0])
    # data at the single point c: the exact velocity (x - c) / s; one Euler step from s=1 lands on c
    calls = spy(m, lambda x, t: (x - c) / (t[:, None] / T))
    out = m.sample(5, sampler="flow_euler", steps=1, generator=torch.Generator().manual_seed(0)).data
    assert torch.allclose(out, c.expand(5, 2), atol=1e-6)
    # a constant field: Euler and Heun are both exact, and visit s*T at the even (shifted) times
    k = torch.tensor([1.0, 3.0])
    start = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    for sampler, steps, times in [("flow_euler", 4, [100, 75, 50, 25]),
                                  ("flow_heun", 2, [100, 50, 50, 0])]:
        calls = spy(m, lambda x, t: k.expand_as(x))
        out = m.sample(5, sampler=sampler, steps=steps, generator=torch.Generator().manual_seed(1)).data
        assert torch.allclose(out, start - k, atol=1e-6), sampler
        assert [float(t[0]) for t, _ in calls] == pytest.approx(times)
        assert all(mode for _, mode in calls)  # sampling runs under torch.inference_mode
        assert not out.is_inference()  # what it returns is an ordinary tensor
    calls = spy(m, lambda x, t: k.expand_as(x))
    m.sample(2, sampler="flow_euler", steps=2, shift=3.0)
    assert [float(t[0]) for t, _ in calls] == pytest.approx([100, 75])  # 3 * .5 / (1 + 2 * .5)


def test_heun_is_second_order_on_a_curved_field():
    """dx/ds = x: x(0) = x(1) e^-1. Halving the step quarters Heun's error, halves Euler's."""
    m = model()
    spy(m, lambda x, t: x)
    start = torch.randn(3, 2, generator=torch.Generator().manual_seed(2))
    exact = start * math.exp(-1)

    def err(sampler, steps):
        out = m.sample(3, sampler=sampler, steps=steps, generator=torch.Generator().manual_seed(2)).data
        return (out - exact).abs().max().item()

    assert err("flow_heun", 8) / err("flow_heun", 16) == pytest.approx(4, rel=0.1)
    assert err("flow_euler", 32) / err("flow_euler", 64) == pytest.approx(2, rel=0.1)


def test_flow_sampling_is_seeded_and_the_default_sampler():
    m = model()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert m.default_sampler == "diffusion:flow_euler"
    a = m.sample(6, generator=torch.Generator().manual_seed(1)).data
    torch.manual_seed(9)
    assert torch.equal(a, m.sample(6, generator=torch.Generator().manual_seed(1)).data)
    assert not torch.equal(a, m.sample(6, generator=torch.Generator().manual_seed(2)).data)


def test_objectives_and_samplers_must_agree_and_options_are_checked():
    with pytest.raises(IncompatibleSamplerError, match="model.objective=flow; pick one of its samplers: flow_euler"):
        model().sample(2, sampler="ddim")
    with pytest.raises(IncompatibleSamplerError, match="solves a flow model's ODE.*objective=diffusion"):
        model(flow=False).sample(2, sampler="flow_heun")
    with pytest.raises(ConfigError, match="model.objective: unknown objective 'flows'"):
        model("model.objective=flows")
    with pytest.raises(ConfigError, match="set model.denoiser.prediction=v"):
        model("model.denoiser.prediction=eps")
    with pytest.raises(ConfigError, match="loss_weighting=mse"):
        model("model.loss_weighting=min_snr")
    with pytest.raises(ConfigError, match="model.flow_time: unknown"):
        model("model.flow_time=beta")
    for options, message in [({"steps": 0}, "steps must be"), ({"shift": 0.0}, "shift must be"),
                             ({"shift": "big"}, "shift=.big. must be a number")]:
        with pytest.raises(ConfigError, match=message):
            model().sample(2, sampler="flow_euler", **options)


@pytest.mark.parametrize("sampler", ["dpmpp_2m", "euler"])
def test_karras_spacing_calls_the_denoiser_at_continuous_timesteps(sampler):
    m = model(flow=False)
    schedule = m.noise_schedule
    calls = spy(m, lambda x, t: torch.zeros_like(x))
    m.sample(3, sampler=sampler, steps=6, karras=True, generator=torch.Generator().manual_seed(0))
    seen = [float(t[0]) for t, _ in calls]
    assert seen == pytest.approx(schedule.karras_timesteps(6), abs=1e-4)
    assert calls[1][0].dtype.is_floating_point and seen[1] != int(seen[1])  # not rounded
    calls = spy(m, lambda x, t: torch.zeros_like(x))
    m.sample(3, sampler=sampler, steps=6, karras=False)
    assert [float(t[0]) for t, _ in calls] == schedule.spaced(6) and calls[0][0].dtype == torch.long
    with pytest.raises(ConfigError, match="karras must be true or false"):
        m.sample(2, sampler=sampler, karras="yes")


def test_euler_equals_ddim_at_eta_0_on_the_same_timesteps():
    """Euler in sigma space is DDIM (eta 0) in disguise (Karras et al. 2022, section 4)."""
    m = model(flow=False)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    euler = m.sample(4, sampler="euler", steps=10, karras=False, generator=g()).data
    ddim = m.sample(4, sampler="ddim", steps=10, generator=g()).data
    assert torch.allclose(euler, ddim, atol=1e-4)
