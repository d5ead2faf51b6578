"""Every sampler's update, step by step, against diffusers' schedulers on identical inputs.

diffusers is an independent implementation (a test-only dependency, in the root
``dev`` extra and this plugin's ``test`` extra; a missing diffusers fails these tests
rather than skipping them). Each test hands both sides the same ``alpha_bar`` table,
the same ``x_t``, the same model output and the same noise at every step, follows
diffusers' chain, and requires our update to match to 1e-5.

The comparison runs in float64 so that it measures the algorithms, not float32
rounding: near ``t = T-1`` of the cosine schedule, ``alpha_t`` is about 1e-4 and the
clean-data estimate ``(x - sigma eps) / alpha`` loses four digits in either
implementation. diffusers' DPM-Solver keeps its sigma table in float32, so that
table is replaced by the same float64 values too. The schedule tables themselves
are compared with the ones diffusers builds from the same settings.
"""

import diffusers
import pytest
import torch
from omegaconf import OmegaConf

from genloom_diffusion import NoiseSchedule, estimates
from genloom_diffusion.samplers.ddim import ddim_step
from genloom_diffusion.samplers.ddpm import ddpm_step
from genloom_diffusion.samplers.dpm_solver import dpmpp_2m_step
from genloom_diffusion.schedules import Cosine, Linear

# diffusers 0.42.1 on numpy 2 warns about np.array(tensor, copy=False); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

T = 1000
SHAPE = (4, 1, 8, 8)
DIFFUSERS_KIND = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}


def schedule(name: str) -> NoiseSchedule:
    if name == "linear":
        table = Linear(OmegaConf.structured(Linear.Config), T)
    else:
        table = Cosine(OmegaConf.structured(Cosine.Config), T)
    return NoiseSchedule(table.alphas_cumprod())


def reference(cls, ours: NoiseSchedule, kind: str, steps: int, **config):
    """A diffusers scheduler using exactly our alpha_bar table, with trailing spacing."""
    sched = cls(num_train_timesteps=T, prediction_type=DIFFUSERS_KIND[kind],
                timestep_spacing="trailing", **config)
    sched.alphas_cumprod = ours.alphas_cumprod.clone()  # float64, the table we use
    sched.set_timesteps(steps)
    assert sched.timesteps.tolist() == ours.spaced(steps)  # the same timesteps are visited
    if hasattr(sched, "sigmas"):  # DPM-Solver: its sigma table, from the same alpha_bar in float64
        abar = ours.alphas_cumprod[sched.timesteps]
        sched.sigmas = torch.cat([((1 - abar) / abar).sqrt(), torch.zeros(1, dtype=abar.dtype)])
    return sched


X0 = torch.rand(SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 2 - 1


def model_output(kind: str, step: int, x: torch.Tensor, t: int, ours: NoiseSchedule) -> torch.Tensor:
    """What a good but imperfect denoiser of ``kind`` outputs at ``(x, t)``: the answer
    that implies the clean-data estimate ``X0 + error``. (With pure noise as output, or
    an error of fixed size in eps, the estimate at ``t = T-1`` of the cosine schedule is
    ~1e4 and the chain runs to values in the thousands, where float rounding, not the
    algorithm, decides the last digits.)"""
    g = torch.Generator().manual_seed(100 + step)
    x0 = X0 + 0.1 * torch.randn(SHAPE, generator=g, dtype=torch.float64)
    a, s = ours.alpha(t), ours.sigma(t)
    eps = (x - a * x0) / s
    return {"eps": eps, "x0": x0, "v": a * eps - s * x0}[kind]


def noise(step: int) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(5000 + step), dtype=torch.float64)


def close(ours: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    err = (ours - ref).abs().max().item()
    assert err <= 1e-5, f"{what}: max abs difference {err:.2e} > 1e-5"


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_schedule_tables_match_diffusers(name):
    ours = schedule(name).alphas_cumprod
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=T, beta_schedule="linear" if name == "linear" else "squaredcos_cap_v2"
    ).alphas_cumprod.double()
    # diffusers builds the table in float32; ours is float64, so compare relatively
    assert torch.allclose(ours, ref, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps,clip", [("linear", T, True), ("linear", 50, False),
                                             ("cosine", 20, True)])
def test_ddpm_matches_diffusers(kind, name, steps, clip):
    ours = schedule(name)
    ref = reference(diffusers.DDPMScheduler, ours, kind, steps, clip_sample=clip)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = ref.timesteps.tolist()
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        out = model_output(kind, i, x, t, ours)
        x0, _ = estimates(ours, out, x, t, kind, 1.0 if clip else None)
        mine = ddpm_step(ours, x0, x, t, t_prev, noise(i))
        g = torch.Generator().manual_seed(5000 + i)  # diffusers draws the same noise from this
        theirs = ref.step(out, t, x, generator=g).prev_sample
        close(mine, theirs, f"ddpm step {i} (t={t})")
        x = theirs


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps,eta,clip", [
    ("linear", 50, 0.0, False), ("linear", 20, 1.0, True), ("cosine", 50, 0.5, False),
    ("cosine", 10, 0.0, True), ("linear", T, 0.0, False),
])
def test_ddim_matches_diffusers(kind, name, steps, eta, clip):
    ours = schedule(name)
    ref = reference(diffusers.DDIMScheduler, ours, kind, steps, clip_sample=clip)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = ref.timesteps.tolist()
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        out, z = model_output(kind, i, x, t, ours), noise(i)
        x0, eps = estimates(ours, out, x, t, kind, 1.0 if clip else None)
        mine = ddim_step(ours, x0, eps, x, t, t_prev, eta, z)
        theirs = ref.step(out, t, x, eta=eta, use_clipped_model_output=clip,
                          variance_noise=z if eta > 0 else None).prev_sample
        close(mine, theirs, f"ddim step {i} (t={t})")
        x = theirs


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps", [("linear", 20), ("cosine", 10), ("linear", 50)])
def test_dpmpp_2m_matches_diffusers(kind, name, steps):
    ours = schedule(name)
    ref = reference(diffusers.DPMSolverMultistepScheduler, ours, kind, steps,
                    algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ts = ref.timesteps.tolist()
    previous = None
    for i, t in enumerate(ts):
        t_next = ts[i + 1] if i + 1 < len(ts) else -1
        out = model_output(kind, i, x, t, ours)
        x0, _ = estimates(ours, out, x, t, kind)
        mine = dpmpp_2m_step(ours, x0, x, t, t_next, previous)
        previous = (x0, t)
        theirs = ref.step(out, t, x).prev_sample
        close(mine, theirs, f"dpmpp_2m step {i} (t={t})")
        x = theirs
