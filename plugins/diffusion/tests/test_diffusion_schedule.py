"""The noise schedules, the eps/x0/v conversions, timestep spacing and loss weighting."""

from dataclasses import dataclass

import pytest
import torch

import genloom
from genloom import DataInfo, load_config
from genloom.build import build_model

from genloom_diffusion import PREDICTIONS, NoiseSchedule
from genloom_diffusion.objective import loss_weight

POINTS = DataInfo(kind="points", shape=(2,))


def table(name: str, timesteps: int = 1000) -> NoiseSchedule:
    cfg = load_config(None, ["model.name=diffusion", "model.denoiser.name=mlp",
                             f"model.schedule.name={name}", f"model.timesteps={timesteps}"],
                      check_trainer=False)
    return build_model(cfg, POINTS).noise_schedule


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_conversions_round_trip_exactly(name):
    s = table(name)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)
    t = torch.cat([torch.tensor([0, 1, 500, 998, 999]), torch.randint(0, 1000, (59,), generator=g)])
    x_t = s.add_noise(x0, eps, t)
    truth = {"eps": eps, "x0": x0, "v": s.target("v", x0, eps, t)}
    for src in PREDICTIONS:
        assert torch.equal(s.target(src, x0, eps, t), truth[src])
        for dst in PREDICTIONS:
            got = s.convert(truth[src], x_t, t, src, dst)
            assert torch.allclose(got, truth[dst], rtol=1e-9, atol=1e-9), (src, dst)
            back = s.convert(got, x_t, t, dst, src)
            assert torch.allclose(back, truth[src], rtol=1e-9, atol=1e-9), (src, dst, "back")


def test_scalar_and_per_example_timesteps_agree():
    s = table("cosine")
    x0, eps = torch.randn(5, 2), torch.randn(5, 2)
    for t in (0, 321, 999):
        per_example = s.add_noise(x0, eps, torch.full((5,), t))
        assert torch.allclose(per_example, s.add_noise(x0, eps, t), atol=1e-6)
        x_t = per_example
        for kind in PREDICTIONS:
            out = s.target(kind, x0, eps, t)
            a = s.x0_and_eps(out, x_t, t, kind)
            b = s.x0_and_eps(out, x_t, torch.full((5,), t), kind)
            assert all(torch.allclose(u, v, atol=1e-5) for u, v in zip(a, b))
    assert s.alpha(-1) == 1.0 and s.sigma(-1) == 0.0 and s.alpha_bar(-1) == 1.0


def test_schedules_run_from_signal_to_noise():
    for name in ("linear", "cosine"):
        abar = table(name).alphas_cumprod
        assert abar.dtype == torch.float64 and len(abar) == 1000
        assert abar[0] > 0.999 and abar[-1] < 1e-3 and bool((abar[1:] < abar[:-1]).all())
    assert len(table("linear", timesteps=10).alphas_cumprod) == 10


@pytest.mark.parametrize("steps", [1, 7, 20, 50, 333, 1000])
def test_spacing_visits_distinct_timesteps_from_the_noisiest(steps):
    ts = table("linear").spaced(steps)
    assert len(ts) == steps and ts[0] == 999 and min(ts) >= 0
    assert all(a > b for a, b in zip(ts, ts[1:]))
    if steps == 1000:
        assert ts == list(range(999, -1, -1))


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="increase"):
        NoiseSchedule(torch.tensor([0.5, 0.9]))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        NoiseSchedule(torch.tensor([0.9, 0.0]))
    with pytest.raises(ValueError, match="1-d"):
        NoiseSchedule(torch.ones(2, 2))
    with pytest.raises(ValueError, match="between 1 and"):
        table("linear").spaced(1001)


def test_min_snr_loss_is_the_same_for_every_prediction_kind():
    """min-SNR makes the loss min(SNR, gamma) * |x0 - x0_hat|^2, whatever the kind."""
    s, gamma = table("linear"), 5.0
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(200, 4, generator=g, dtype=torch.float64), torch.randn(200, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 1000, (200,), generator=g)
    x_t = s.add_noise(x0, eps, t)
    x0_hat = x0 + 0.1 * torch.randn(200, 4, generator=g, dtype=torch.float64)
    snr = (s.alphas_cumprod[t] / (1 - s.alphas_cumprod[t]))
    assert torch.allclose(s.snr(t).double(), snr, rtol=1e-6)
    expected = snr.clamp(max=gamma) * (x0 - x0_hat).pow(2).mean(1)
    for kind in PREDICTIONS:
        out = s.convert(x0_hat, x_t, t, "x0", kind)
        err = (out - s.target(kind, x0, eps, t)).pow(2).mean(1)
        weighted = loss_weight("min_snr", kind, snr, gamma) * err
        assert torch.allclose(weighted, expected, rtol=1e-6), kind
    assert loss_weight("mse", "eps", snr, gamma) == 1.0


class Straight:
    """A third party's noise schedule: alpha_bar falling linearly from ``start`` to 0.01."""

    @dataclass
    class Config:
        start: float = 0.99

    def __init__(self, cfg, timesteps):
        self.cfg, self.timesteps = cfg, timesteps

    def alphas_cumprod(self):
        return torch.linspace(self.cfg.start, 0.01, self.timesteps, dtype=torch.float64)


def test_a_plugin_can_add_a_noise_schedule():
    genloom.register("noise_schedule", "straight", Straight)
    cfg = load_config(None, ["model.name=diffusion", "model.denoiser.name=mlp",
                             "model.schedule.name=straight", "model.schedule.start=0.9",
                             "model.timesteps=50"], check_trainer=False)
    model = build_model(cfg, POINTS)
    assert torch.allclose(model.noise_schedule.alphas_cumprod, torch.linspace(0.9, 0.01, 50, dtype=torch.float64))
    loss = model.losses({"x": torch.randn(8, 2)})["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    out = model.sample(3, sampler="dpmpp_2m", steps=5, generator=torch.Generator().manual_seed(0))
    assert out.data.shape == (3, 2)


def test_schedule_options_are_checked():
    from genloom.errors import ComponentError, ConfigError

    with pytest.raises(ComponentError, match="beta_start <= beta_end"):
        table_cfg = ["model.name=diffusion", "model.denoiser.name=mlp", "model.schedule.beta_start=0.5"]
        build_model(load_config(None, table_cfg, check_trainer=False), POINTS)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, ["model.name=diffusion", "model.schedule.name=cosine",
                           "model.schedule.beta_end=0.1"], check_trainer=False)


def test_v_target_and_min_snr_weights_by_hand():
    """Numbers worked out from alpha_bar alone: v = alpha eps - sigma x0; SNR = abar / (1 - abar);
    min-SNR-5 weights min(SNR, 5) / SNR (eps), min(SNR, 5) (x0), min(SNR, 5) / (SNR + 1) (v)."""
    s = NoiseSchedule(torch.tensor([0.96, 0.64, 0.36], dtype=torch.float64))
    x0 = torch.tensor([[1.0, -2.0]] * 3, dtype=torch.float64)
    eps = torch.tensor([[0.5, 3.0]] * 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 2])
    # alpha = 0.9798, 0.8, 0.6; sigma = 0.2, 0.6, 0.8
    a0 = 0.96 ** 0.5
    expected_v = torch.tensor([[a0 * 0.5 - 0.2 * 1.0, a0 * 3.0 - 0.2 * -2.0],
                               [0.8 * 0.5 - 0.6 * 1.0, 0.8 * 3.0 - 0.6 * -2.0],
                               [0.6 * 0.5 - 0.8 * 1.0, 0.6 * 3.0 - 0.8 * -2.0]], dtype=torch.float64)
    assert torch.allclose(s.target("v", x0, eps, t), expected_v, atol=1e-12)
    snr = s.snr(t).double()  # 24, 16/9, 9/16
    assert torch.allclose(snr, torch.tensor([24.0, 16 / 9, 9 / 16], dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(loss_weight("min_snr", "eps", snr, 5.0),
                          torch.tensor([5 / 24, 1.0, 1.0], dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(loss_weight("min_snr", "x0", snr, 5.0),
                          torch.tensor([5.0, 16 / 9, 9 / 16], dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(loss_weight("min_snr", "v", snr, 5.0),
                          torch.tensor([5 / 25, (16 / 9) / (25 / 9), (9 / 16) / (25 / 16)],
                                       dtype=torch.float64), rtol=1e-6)


def test_continuous_timesteps_interpolate_log_sigma_between_integer_ones():
    s = table("linear")
    sig = s.sigmas
    t = 417.25
    expected = float((0.75 * sig[417].log() + 0.25 * sig[418].log()).exp())
    assert s.ve_sigma(t) == pytest.approx(expected, rel=1e-12)
    assert s.alpha_bar(t) == pytest.approx(1 / (1 + expected ** 2), rel=1e-12)
    assert s.sigma_to_t(expected) == pytest.approx(t, abs=1e-9)
    x0, eps = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    x_t = s.add_noise(x0, eps, t)  # scalar continuous t: the interpolated coefficients
    assert torch.allclose(s.x0_and_eps(s.target("v", x0, eps, t), x_t, t, "v")[0], x0, atol=1e-10)
    for bad in (-0.5, 999.5, 1200.5):
        with pytest.raises(ValueError, match="continuous timestep must lie in"):
            s.alpha(bad)
