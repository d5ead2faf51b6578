"""``langevin``: annealed Langevin dynamics (Song and Ermon, 2019, Algorithm 1).

Start from wide Gaussian noise and, for each noise level ``sigma_i`` of the model's
ladder (largest first), take ``steps_per_level`` steps of unadjusted Langevin dynamics
on ``E(x, sigma_i)``::

    x <- x - (a_i / 2) grad_x E(x, sigma_i) + sqrt(a_i) z,     a_i = step_size * sigma_i^2

so the step shrinks with the level and ``step_size`` is the same dimensionless
number at every level (NCSN's ``epsilon`` is ``step_size * sigma_min^2``). With
``denoise``, a last Tweedie step ``x <- x - sigma_min^2 grad_x E(x, sigma_min)``
removes the noise of the smallest level (Jolicoeur-Martineau et al., 2021).

The sampler differentiates the energy, so it declares ``needs_grad`` and the core runs
it with autograd on; it returns detached data, clipped to the model's data range.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Sampler, Samples, progress

from genloom_ebm.energy import EnergyNetwork, energy_grad


def check_options(steps_per_level: Any, step_size: Any, denoise: Any, init: Any) -> None:
    """One-line ConfigErrors for option values the core's type check lets through."""
    if isinstance(steps_per_level, bool) or not isinstance(steps_per_level, int) or steps_per_level < 1:
        raise ConfigError(f"steps_per_level must be a whole number of at least 1, got {steps_per_level!r}")
    if not isinstance(step_size, (int, float)) or isinstance(step_size, bool) or not step_size > 0:
        raise ConfigError(f"step_size must be a positive number, got {step_size!r}")
    if not isinstance(denoise, bool):
        raise ConfigError(f"denoise must be true or false, got {denoise!r}")
    if not isinstance(init, (int, float)) or isinstance(init, bool) or not init > 0:
        raise ConfigError(f"init must be a positive number, got {init!r}")


def langevin_step(x: Tensor, grad: Tensor, alpha: float, noise: Tensor) -> Tensor:
    """One unadjusted Langevin step of size ``alpha`` down the energy gradient ``grad``."""
    return x - 0.5 * alpha * grad + math.sqrt(alpha) * noise


class Langevin(Sampler):
    """Annealed Langevin dynamics over the model's noise ladder.

    Drives any model that keeps the :class:`~genloom_ebm.energy.EnergyModel` protocol:
    an :class:`~genloom_ebm.energy.EnergyNetwork` component and ``noise_levels``.
    """

    drives = EnergyNetwork
    requires = ("noise_levels",)
    needs_grad = True

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps_per_level: int = 20,
        step_size: float = 0.5,
        denoise: bool = True,
        init: float = 1.0,
    ) -> Samples:
        """``steps_per_level``: Langevin steps at each noise level; ``step_size``: the
        step at level ``sigma`` is ``step_size * sigma^2``; ``denoise``: a final Tweedie
        step at the smallest level; ``init``: the starting noise's standard deviation in
        units of the largest level."""
        check_options(steps_per_level, step_size, denoise, init)
        if cond is not None:  # an energy E(x, sigma) has no label input to honour it with
            raise ConfigError("the langevin sampler draws unconditional samples; drop --cond")
        net = self.check(model)
        levels = [float(s) for s in model.noise_levels]
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        shape = (n, *model.info.shape)

        def noise() -> Tensor:  # drawn on the CPU, so a seed gives the same chain on any device
            return torch.randn(shape, generator=generator, dtype=dtype).to(device)

        x = noise() * (init * levels[0])
        for sigma in progress(levels, total=len(levels), desc="langevin"):
            alpha = step_size * sigma * sigma
            for _ in range(steps_per_level):
                x = langevin_step(x, energy_grad(net, x, sigma), alpha, noise())
        if denoise:
            x = x - levels[-1] ** 2 * energy_grad(net, x, levels[-1])
        x = x.detach()
        limit = getattr(model, "data_range", None)
        if limit is not None:
            x = x.clamp(-limit, limit)
        return Samples(data=x.float().cpu(), kind=model.info.kind)
