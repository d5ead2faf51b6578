"""Continuous time, Karras sigmas and flow matching, step by step against diffusers on
identical inputs (see test_diffusion_reference.py for the method): the same sigma
table, the same ``x``, the same model output and the same chain, to 1e-5.

Runs in float64. Where diffusers keeps a table in float32 (its sigmas), the table is
first compared with ours to float32 precision and then replaced by our float64 one, so
that the steps compare the algorithms, not the rounding.
"""

import diffusers
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genloom_diffusion import NoiseSchedule, estimates
from genloom_diffusion.flow import euler_step as flow_euler_step
from genloom_diffusion.flow import flow_sigmas, heun_step
from genloom_diffusion.samplers.dpm_solver import dpmpp_2m_step
from genloom_diffusion.samplers.euler import euler_step
from genloom_diffusion.schedules import Cosine, Linear

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

T = 1000
SHAPE = (4, 1, 8, 8)
DIFFUSERS_KIND = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}
X0 = torch.rand(SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 2 - 1


def schedule(name: str) -> NoiseSchedule:
    cls = Linear if name == "linear" else Cosine
    return NoiseSchedule(cls(OmegaConf.structured(cls.Config), T).alphas_cumprod())


def toy_x0(step: int) -> torch.Tensor:
    """The fixed deterministic toy denoiser's clean-data estimate at a step: X0 plus a
    seeded error."""
    return X0 + 0.1 * torch.randn(SHAPE, generator=torch.Generator().manual_seed(100 + step), dtype=torch.float64)


def output_for(kind: str, x0: torch.Tensor, x_t: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
    """The output of a ``kind`` denoiser at VP ``x_t`` that implies the estimate ``x0``."""
    eps = (x_t - alpha * x0) / sigma
    return {"eps": eps, "x0": x0, "v": alpha * eps - sigma * x0}[kind]


def close(ours: torch.Tensor, ref: torch.Tensor, what: str, rel: bool = False) -> None:
    scale = max(ref.abs().max().item(), 1.0) if rel else 1.0
    err = (ours - ref).abs().max().item() / scale
    assert err <= 1e-5, f"{what}: max {'relative ' if rel else ''}difference {err:.2e} > 1e-5"


# -- the sigma table and continuous time ---------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_sigma_table_and_continuous_time_match_diffusers(name):
    ours = schedule(name)
    abar = ours.alphas_cumprod
    assert torch.allclose(ours.sigmas, ((1 - abar) / abar).sqrt(), rtol=1e-12)
    ref = diffusers.EulerDiscreteScheduler(num_train_timesteps=T)
    log_sigmas = ours.sigmas.log().numpy()
    for sigma in [ours.sigmas[0].item(), 0.05, 0.7, 1.0, 3.3, 40.0, ours.sigmas[-1].item()]:
        t = ours.sigma_to_t(sigma)
        assert t == pytest.approx(float(ref._sigma_to_t(np.array(sigma), log_sigmas)), abs=1e-9)
        if 0 < t < T - 1:
            assert t != int(t)  # continuous: not rounded
        assert ours.ve_sigma(t) == pytest.approx(sigma, rel=1e-12)  # the exact inverse
        a, s = ours.alpha(t), ours.sigma(t)
        assert a * a + s * s == pytest.approx(1.0, abs=1e-12)
        assert s / a == pytest.approx(sigma, rel=1e-12)
        assert ours.log_snr(t) == pytest.approx(-np.log(sigma), rel=1e-12)
    for t in (0, 1, 500, T - 1):  # integer timesteps read the table exactly
        assert ours.alpha(float(t)) == ours.alpha(t) == abar[t].sqrt().item()


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("steps", [5, 10, 25])
def test_karras_sigmas_match_diffusers(name, steps):
    ours = schedule(name)
    for cls in (diffusers.DPMSolverMultistepScheduler, diffusers.EulerDiscreteScheduler):
        ref = cls(num_train_timesteps=T, use_karras_sigmas=True)
        ref.alphas_cumprod = ours.alphas_cumprod.clone()
        ref.set_timesteps(steps)
        theirs = ref.sigmas.double()[:-1]  # then 0
        assert ref.sigmas[-1].item() == 0.0
        mine = torch.tensor(ours.karras_sigmas(steps), dtype=torch.float64)
        assert torch.allclose(mine, theirs, rtol=2e-6), cls.__name__  # diffusers' float32
    ts = ours.karras_timesteps(steps)
    assert ts[0] == T - 1 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    for t, sigma in zip(ts, ours.karras_sigmas(steps)):
        assert ours.ve_sigma(t) == pytest.approx(sigma, rel=1e-9)


# -- DPM-Solver++ (2M) and Euler on Karras sigmas ------------------------------------------


def karras_reference(cls, ours, kind, steps, **config):
    ref = cls(num_train_timesteps=T, prediction_type=DIFFUSERS_KIND[kind], use_karras_sigmas=True, **config)
    ref.alphas_cumprod = ours.alphas_cumprod.clone()
    ref.set_timesteps(steps)
    ref.sigmas = torch.tensor(ours.karras_sigmas(steps) + [0.0], dtype=torch.float64)
    # its rounded timesteps repeat near T-1 on the cosine schedule, and diffusers then
    # starts from the second of equal timesteps: start it at the first, as a pipeline does
    ref.set_begin_index(0)
    return ref


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps", [("linear", 10), ("cosine", 20), ("linear", 5)])
def test_dpmpp_2m_on_karras_sigmas_matches_diffusers(kind, name, steps):
    ours = schedule(name)
    ref = karras_reference(diffusers.DPMSolverMultistepScheduler, ours, kind, steps,
                           algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint")
    ts = ours.karras_timesteps(steps)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    previous = None
    for i, (t, t_ref) in enumerate(zip(ts, ref.timesteps.tolist())):
        t_next = ts[i + 1] if i + 1 < len(ts) else -1
        out = output_for(kind, toy_x0(i), x, ours.alpha(t), ours.sigma(t))
        x0, _ = estimates(ours, out, x, t, kind)
        mine = dpmpp_2m_step(ours, x0, x, t, t_next, previous)
        previous = (x0, t)
        theirs = ref.step(out, t_ref, x).prev_sample  # diffusers rounds t for the model only
        close(mine, theirs, f"dpmpp_2m karras step {i} (t={t:.3f})")
        x = theirs


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps", [("linear", 10), ("cosine", 25)])
def test_euler_on_karras_sigmas_matches_diffusers(kind, name, steps):
    ours = schedule(name)
    ref = karras_reference(diffusers.EulerDiscreteScheduler, ours, kind, steps)
    ts = ours.karras_timesteps(steps)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x = x * ref.init_noise_sigma  # sigma-space state, as diffusers starts it
    for i, t in enumerate(ts):
        t_next = ts[i + 1] if i + 1 < len(ts) else -1
        timestep = ref.timesteps[i]
        x_t = ref.scale_model_input(x, timestep)  # x~ / sqrt(sigma^2 + 1) = alpha_t x~
        close(x_t, x * ours.alpha(t), f"model input {i}")
        out = output_for(kind, toy_x0(i), x_t, ours.alpha(t), ours.sigma(t))
        x0, _ = estimates(ours, out, x_t, t, kind)
        mine = euler_step(x, x0, ours.ve_sigma(t), ours.ve_sigma(t_next))
        theirs = ref.step(out, timestep, x).prev_sample.double()  # diffusers steps in float32
        close(mine, theirs, f"euler karras step {i} (t={t:.3f})", rel=True)
        x = mine


# -- flow matching ----------------------------------------------------------------------------


def velocity(step: int, x: torch.Tensor, s: float) -> torch.Tensor:
    """The toy flow denoiser: the velocity that implies the clean-data estimate toy_x0."""
    return (x - toy_x0(step)) / max(s, 1e-3)


@pytest.mark.parametrize("steps,shift", [(10, 1.0), (8, 3.0), (1, 1.0)])
def test_flow_sigmas_by_hand_and_diffusers(steps, shift):
    mine = flow_sigmas(steps, shift)
    even = np.linspace(1.0, 0.0, steps + 1)
    assert np.allclose(mine, shift * even / (1 + (shift - 1) * even), rtol=0, atol=1e-15)
    # diffusers, given the even times, shifts them the same way
    ref = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=T, shift=shift)
    ref.set_timesteps(sigmas=even[:-1].tolist())
    assert torch.allclose(ref.sigmas.double(), torch.tensor(mine, dtype=torch.float64), rtol=1e-6)


@pytest.mark.parametrize("steps,shift", [(10, 1.0), (6, 3.0)])
def test_flow_euler_matches_diffusers(steps, shift):
    sigmas = flow_sigmas(steps, shift)
    ref = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=T)  # shift 1: ours already are
    ref.set_timesteps(sigmas=sigmas[:-1])
    assert torch.allclose(ref.sigmas.double(), torch.tensor(sigmas, dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(ref.timesteps.double(), torch.tensor(sigmas[:-1], dtype=torch.float64) * T, rtol=1e-6)
    ref.sigmas = torch.tensor(sigmas, dtype=torch.float64)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for i in range(steps):
        v = velocity(i, x, sigmas[i])
        mine = flow_euler_step(x, v, sigmas[i], sigmas[i + 1])
        theirs = ref.step(v, ref.timesteps[i], x).prev_sample.double()
        close(mine, theirs, f"flow euler step {i}", rel=True)
        x = mine


def test_flow_heun_matches_diffusers():
    steps = 6
    sigmas = flow_sigmas(steps)
    ref = diffusers.FlowMatchHeunDiscreteScheduler(num_train_timesteps=T)
    ref.set_timesteps(steps)
    # diffusers' default table: linspace(1, 1/T, steps), each step done twice (Heun), then 0
    theirs_sigmas = np.linspace(1.0, 1.0 / T, steps)
    ref_unique = [ref.sigmas[0].item()] + ref.sigmas[1::2].tolist()
    assert np.allclose(ref_unique, [*theirs_sigmas, 0.0], rtol=1e-6)
    table = [*theirs_sigmas.tolist(), 0.0]
    ref.sigmas = torch.tensor([table[0], *[s for s in table[1:-1] for _ in (0, 1)], 0.0], dtype=torch.float64)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    calls = 0
    for i in range(steps):
        s, s_next = table[i], table[i + 1]
        v = velocity(calls, x, s)
        x_pred = flow_euler_step(x, v, s, s_next)
        theirs_pred = ref.step(v, ref.timesteps[2 * i], x).prev_sample.double()
        close(x_pred, theirs_pred, f"flow heun predictor {i}", rel=True)
        if 2 * i + 1 >= len(ref.timesteps):  # diffusers' last step, to 0, stays Euler
            x = x_pred
            break
        v_pred = velocity(calls + 1, x_pred, s_next)
        mine = heun_step(x, v, v_pred, s, s_next)
        theirs = ref.step(v_pred, ref.timesteps[2 * i + 1], theirs_pred).prev_sample.double()
        close(mine, theirs, f"flow heun step {i}", rel=True)
        x, calls = mine, calls + 2
