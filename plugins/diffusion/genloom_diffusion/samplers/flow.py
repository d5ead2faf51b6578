"""``flow_euler`` and ``flow_heun``: the samplers of a flow-matching model
(``model.objective=flow``), integrating ``dx/ds = v(x, s)`` in continuous time from
``s = 1`` (noise) to ``s = 0`` (data); see :mod:`genloom_diffusion.flow`.

Euler costs one denoiser call per step; Heun two (a predictor and a corrector, on every
step: the velocity is defined at ``s = 0`` too), for second-order accuracy. Both are
deterministic: the only randomness is the starting noise.
"""

from __future__ import annotations

from torch import Tensor

from genloom import ConfigError

from genloom_diffusion.denoising import DiffusionSampler, Run
from genloom_diffusion.denoising.options import Option, positive
from genloom_diffusion.flow import euler_step, flow_sigmas, heun_step


class FlowSampler(DiffusionSampler):
    """A flow sampler: the base's loop over the times of
    :func:`~genloom_diffusion.flow.flow_sigmas`; a subclass writes ``step``."""

    objective = "flow"
    default_steps = 20
    options = {"shift": Option(1.0, "> 1 spends more of the steps at high noise", positive)}
    common_options = ("steps", "guidance")  # no clipping: a velocity has no x0 to clip

    def grid(self, run: Run, steps: int | None) -> list[float]:
        """``steps + 1`` times from 1 (noise) to 0 (data): :func:`~genloom_diffusion.flow.flow_sigmas`."""
        steps = self.default_steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 10_000:
            raise ConfigError(f"steps must be a whole number from 1 to 10000, got {steps!r}")
        return flow_sigmas(steps, run.options["shift"])

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
