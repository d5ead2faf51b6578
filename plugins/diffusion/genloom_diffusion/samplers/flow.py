"""``flow_euler`` and ``flow_heun``: the samplers of a flow-matching model
(``model.objective=flow``), integrating ``dx/ds = v(x, s)`` in continuous time from
``s = 1`` (noise) to ``s = 0`` (data); see :mod:`genloom_diffusion.flow`.

Euler costs one denoiser call per step; Heun two (a predictor and a corrector, on every
step: the velocity is defined at ``s = 0`` too), for second-order accuracy. Both are
deterministic: the only randomness is the starting noise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Samples

from genloom_diffusion.denoising import DiffusionSampler, Run
from genloom_diffusion.flow import euler_step, flow_sigmas, heun_step


class FlowSampler(DiffusionSampler):
    """The loop of a flow sampler: the base's checks, guidance and finish, over the
    times of :func:`~genloom_diffusion.flow.flow_sigmas`; a subclass writes ``step``."""

    objective = "flow"
    default_steps = 20

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        shift: float = 1.0,
        guidance: float = 1.0,
    ) -> Samples:
        """``steps``: integration steps (default 20); ``shift``: > 1 spends more of them
        at high noise; ``guidance``: classifier-free guidance scale (1: none)."""
        steps = self.default_steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 10_000:
            raise ConfigError(f"steps must be a whole number from 1 to 10000, got {steps!r}")
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not shift > 0:
            raise ConfigError(f"shift must be a positive number, got {shift!r}")
        run = self.start(model, n, cond, guidance, False)
        run.generator, run.options = generator, {"shift": float(shift)}
        times = flow_sigmas(steps, float(shift))
        with torch.inference_mode():
            x = self.initial_noise(run, model, n, generator)
            for s, s_next in self.steps_bar(list(zip(times, times[1:]))):
                x = self.step(run, x, s, s_next)
            samples = self.finish(run, x, cond)
        return Samples(data=samples.data.clone(), kind=samples.kind, cond=samples.cond,
                       extras=samples.extras)

    @staticmethod
    def velocity(run: Run, x: Tensor, s: float) -> Tensor:
        """The (guided) velocity at ``(x, s)``: the denoiser called at time ``s * T``."""
        return run.predict(x, run.model.flow_path.model_time(s))


class FlowEuler(FlowSampler):
    """Euler's method; ``steps`` defaults to 20."""

    label = "flow_euler"

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """``x + (s_next - s) v(x, s)``."""
        return euler_step(x, self.velocity(run, x, t), t, t_next)


class FlowHeun(FlowSampler):
    """Heun's method; ``steps`` defaults to 10 (20 denoiser calls)."""

    label = "flow_heun"
    default_steps = 10

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """Euler's predictor, then the step redone with the mean of both velocities."""
        v = self.velocity(run, x, t)
        v_pred = self.velocity(run, euler_step(x, v, t, t_next), t_next)
        return heun_step(x, v, v_pred, t, t_next)
