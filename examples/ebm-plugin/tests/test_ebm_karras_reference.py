"""Euler ancestral and Heun, step by step, against diffusers' schedulers on identical inputs.

Mirrors the diffusion plugin's reference test (plugins/diffusion/tests/
test_diffusion_reference.py) without importing that plugin: both sides get the same
``alpha_bar`` table (built here from DDPM's linear betas and the improved-DDPM cosine),
the same timesteps (diffusers' ``trailing`` spacing is genloom's ``NoiseSchedule.spaced``),
the same ``x~`` before every step, the same model output and, for the ancestral
sampler, the same noise. Our steps must match to 1e-5 relative to the chain's scale.

Work is in float64. diffusers keeps its sigma table in float32 (and Euler ancestral
rounds its input to float32), so its table is first checked against ours to float32
precision and then replaced by the same float64 values; what is compared is the update.
"""

import math

import diffusers
import pytest
import torch

from genloom_diffusion import NoiseSchedule, estimates
from genloom_ebm.samplers.euler_ancestral import euler_ancestral_step
from genloom_ebm.samplers.heun import euler_step, heun_correct
from genloom_ebm.samplers.karras import ve_sigma, ve_sigmas

# diffusers 0.42.1 on numpy 2 warns about np.array(tensor, copy=False); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

T = 1000
SHAPE = (4, 1, 8, 8)
DIFFUSERS_KIND = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}


def schedule(name: str) -> NoiseSchedule:
    """The two tables genloom's in-house schedules produce, written out independently."""
    if name == "linear":
        abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, T, dtype=torch.float64), 0)
    else:
        f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + 0.008) / 1.008 * math.pi / 2) ** 2
        abar = torch.cumprod(1 - (1 - f[1:] / f[:-1]).clamp(max=0.999), 0)
    return NoiseSchedule(abar)


def reference(cls, ours: NoiseSchedule, kind: str, steps: int, **config):
    """A diffusers scheduler on exactly our alpha_bar table, with trailing spacing."""
    sched = cls(num_train_timesteps=T, prediction_type=DIFFUSERS_KIND[kind],
                timestep_spacing="trailing", **config)
    sched.alphas_cumprod = ours.alphas_cumprod.clone()
    sched.set_timesteps(steps)
    visited = ours.spaced(steps)
    mine = torch.tensor(ve_sigmas(ours, visited), dtype=torch.float64)
    if cls is diffusers.HeunDiscreteScheduler:  # every timestep but the first twice
        visited = visited[:1] + [t for t in visited[1:] for _ in range(2)]
        mine = torch.cat([mine[:1], mine[1:-1].repeat_interleave(2), mine[-1:]])
    assert sched.timesteps.long().tolist() == visited
    assert torch.allclose(sched.sigmas.double(), mine, rtol=1e-6, atol=0)  # float32 table
    sched.sigmas = mine
    return sched


X0 = torch.rand(SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 2 - 1


def model_output(kind: str, step: int, x: torch.Tensor, t: int, ours: NoiseSchedule) -> torch.Tensor:
    """What a good but imperfect denoiser of ``kind`` outputs when its input is
    ``x_t = alpha_t x~``: the answer implying the clean-data estimate ``X0 + error``."""
    g = torch.Generator().manual_seed(100 + step)
    x0 = X0 + 0.1 * torch.randn(SHAPE, generator=g, dtype=torch.float64)
    a, s = ours.alpha(t), ours.sigma(t)
    eps = (a * x - a * x0) / s
    return {"eps": eps, "x0": x0, "v": a * eps - s * x0}[kind]


def noise(step: int) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(5000 + step), dtype=torch.float64)


def x0_estimate(ours, out, x, t, kind, clip=None):
    """Our clean-data estimate at ``x~`` (what SigmaSpaceSampler.denoise computes)."""
    x_t = x * ours.alpha(t)
    return estimates(ours, out, x_t, t, kind, clip)[0]


def close(ours: torch.Tensor, ref: torch.Tensor, before: torch.Tensor, what: str) -> float:
    """Our step's result against diffusers', relative to the chain's scale at that step
    (the larger of the input's and the output's): diffusers' Euler schedulers round their
    input to float32, which near ``sigma_max`` of the cosine schedule (~1e4) is an error
    of ~1e-3 in absolute terms, though 1e-7 of the input."""
    scale = max(1.0, ref.abs().max().item(), before.abs().max().item())
    err = (ours - ref).abs().max().item() / scale
    assert err <= 1e-5, f"{what}: max difference {err:.2e} of the chain's scale > 1e-5"
    return err


def start(ours: NoiseSchedule, steps: int, seed: int) -> torch.Tensor:
    """``x~`` at the first timestep: N(0, I) in the model's units over ``alpha_t``."""
    z = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z / ours.alpha(ours.spaced(steps)[0])


@pytest.mark.parametrize("kind", ["eps", "v"])  # diffusers' Euler ancestral has no x0 prediction
@pytest.mark.parametrize("name,steps", [("linear", 50), ("cosine", 20), ("linear", 7), ("cosine", T)])
def test_euler_ancestral_matches_diffusers(kind, name, steps):
    ours = schedule(name)
    ref = reference(diffusers.EulerAncestralDiscreteScheduler, ours, kind, steps)
    x = start(ours, steps, 0)
    sigmas = ve_sigmas(ours, ours.spaced(steps))
    for i, t in enumerate(ref.timesteps.tolist()):
        out = model_output(kind, i, x, int(t), ours)
        mine = euler_ancestral_step(x, x0_estimate(ours, out, x, int(t), kind), sigmas[i],
                                    sigmas[i + 1], 1.0, noise(i))
        g = torch.Generator().manual_seed(5000 + i)  # diffusers draws the same noise from it
        theirs = ref.step(out, t, x, generator=g).prev_sample
        close(mine, theirs, x, f"euler_ancestral step {i} (t={int(t)})")
        x = theirs


@pytest.mark.parametrize("name,steps", [("linear", 50), ("cosine", 10)])
def test_euler_ancestral_at_eta_0_is_diffusers_euler(name, steps):
    ours = schedule(name)
    ref = reference(diffusers.EulerDiscreteScheduler, ours, "eps", steps)
    x = start(ours, steps, 1)
    sigmas = ve_sigmas(ours, ours.spaced(steps))
    for i, t in enumerate(ref.timesteps.tolist()):
        out = model_output("eps", i, x, int(t), ours)
        mine = euler_ancestral_step(x, x0_estimate(ours, out, x, int(t), "eps"), sigmas[i],
                                    sigmas[i + 1], 0.0, None)
        theirs = ref.step(out, t, x).prev_sample
        close(mine, theirs, x, f"euler step {i}")
        x = theirs


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
@pytest.mark.parametrize("name,steps,clip", [("linear", 25, False), ("cosine", 10, True),
                                             ("linear", 7, True), ("cosine", 50, False)])
def test_heun_matches_diffusers(kind, name, steps, clip):
    ours = schedule(name)
    ref = reference(diffusers.HeunDiscreteScheduler, ours, kind, steps, clip_sample=clip)
    bound = 1.0 if clip else None
    x = start(ours, steps, 2)
    sigmas = ve_sigmas(ours, ours.spaced(steps))
    ts = ref.timesteps.tolist()
    i = 0  # the step of our chain; diffusers makes two calls per step but the last
    call = 0
    while call < len(ts):
        t = int(ts[call])
        out = model_output(kind, call, x, t, ours)
        x_pred, d = euler_step(x, x0_estimate(ours, out, x, t, kind, bound), sigmas[i], sigmas[i + 1])
        predicted = ref.step(out, ts[call], x).prev_sample  # diffusers' first-order call
        close(x_pred, predicted, x, f"heun predictor {i} (t={t})")
        call += 1
        if call == len(ts):  # the last step, to sigma = 0, stays an Euler step
            break
        t_next = int(ts[call])
        out_next = model_output(kind, call, predicted, t_next, ours)
        x0_next = x0_estimate(ours, out_next, predicted, t_next, kind, bound)
        mine = heun_correct(x, d, predicted, x0_next, sigmas[i], sigmas[i + 1])
        theirs = ref.step(out_next, ts[call], predicted).prev_sample  # the second-order call
        close(mine, theirs, x, f"heun corrector {i} (t={t} -> {t_next})")
        x, i, call = theirs, i + 1, call + 1
    assert i == steps - 1


def test_sigma_is_the_variance_exploding_view_of_the_schedule():
    ours = schedule("cosine")
    for t in (0, 10, 500, T - 1):
        assert ve_sigma(ours, t) == pytest.approx(ours.sigma(t) / ours.alpha(t), rel=1e-12)
    assert ve_sigma(ours, -1) == 0.0
