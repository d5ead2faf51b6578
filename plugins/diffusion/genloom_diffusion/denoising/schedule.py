"""The one object that knows the forward process: ``x_t = alpha_t x_0 + sigma_t eps``.

Training (noising, targets, SNR weights) and every sampler read their coefficients
from a :class:`NoiseSchedule`, and it alone converts between what a denoiser may
predict: the noise ``eps``, the clean data ``x0``, or the velocity
``v = alpha_t eps - sigma_t x0`` (Salimans and Ho, 2022). With
``alpha_t = sqrt(alpha_bar_t)`` and ``sigma_t = sqrt(1 - alpha_bar_t)``
(so ``alpha_t^2 + sigma_t^2 = 1``)::

    x0  = (x_t - sigma_t eps) / alpha_t        eps = (x_t - alpha_t x0) / sigma_t
    x0  = alpha_t x_t - sigma_t v              eps = sigma_t x_t + alpha_t v

Timesteps are integers ``0 .. T-1``; ``-1`` stands for the clean data
(``alpha = 1``, ``sigma = 0``), the target of a sampler's last step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

KINDS = ("eps", "x0", "v")

#: a single timestep (sampling) or one per example (training)
Timestep = int | Tensor


class NoiseSchedule:
    """Coefficients of the forward process at every timestep, and the conversions.

    Built from a ``noise_schedule`` component's ``alphas_cumprod()`` table. The table
    stays in float64; scalar lookups (samplers) are Python floats, and per-example
    lookups (training) are gathered from a float32 copy on the batch's device.
    """

    def __init__(self, alphas_cumprod: Tensor) -> None:
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64, device="cpu").detach()
        if abar.ndim != 1 or len(abar) < 2:
            raise ValueError(f"alphas_cumprod must be a 1-d table of T >= 2 values, got {tuple(abar.shape)}")
        if not bool(((abar > 0) & (abar <= 1)).all()):
            raise ValueError("alphas_cumprod must lie in (0, 1]: a zero leaves no signal to recover")
        if not bool((abar[1:] <= abar[:-1]).all()):
            raise ValueError("alphas_cumprod must not increase with t (noise only grows)")
        self.alphas_cumprod = abar
        self.timesteps = len(abar)
        self._abar = abar.tolist()
        self._alpha = abar.sqrt().tolist()
        self._sigma = (1 - abar).sqrt().tolist()
        self._tables: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}
        self._snr: dict[tuple[torch.device, str], Tensor] = {}

    # -- scalar coefficients (samplers) ---------------------------------------------------

    def alpha_bar(self, t: int) -> float:
        """``alpha_bar_t``, the signal variance kept at ``t``; 1 at ``t = -1``."""
        return 1.0 if t < 0 else self._abar[t]

    def alpha(self, t: int) -> float:
        """``sqrt(alpha_bar_t)``; 1 at ``t = -1`` (clean data)."""
        return 1.0 if t < 0 else self._alpha[t]

    def sigma(self, t: int) -> float:
        """``sqrt(1 - alpha_bar_t)``; 0 at ``t = -1``."""
        return 0.0 if t < 0 else self._sigma[t]

    def log_snr(self, t: int) -> float:
        """``lambda_t = log(alpha_t / sigma_t)``, the time variable of DPM-Solver; +inf at -1."""
        return math.inf if t < 0 else math.log(self._alpha[t]) - math.log(self._sigma[t])

    def spaced(self, steps: int) -> list[int]:
        """``steps`` timesteps from ``T-1`` down, evenly spaced ("trailing" spacing).

        The first is always ``T-1``, so sampling starts from (almost) pure noise; the
        step after the last goes to ``-1``. ``steps == T`` gives every timestep.
        """
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"steps must be between 1 and {self.timesteps}, got {steps}")
        return [round(self.timesteps * (steps - i) / steps) - 1 for i in range(steps)]

    # -- per-example coefficients (training) ----------------------------------------------

    def _coefficients(self, t: Timestep, like: Tensor) -> tuple[Tensor | float, Tensor | float]:
        """``(alpha_t, sigma_t)`` shaped to broadcast against ``like``."""
        if not isinstance(t, Tensor):
            return self.alpha(int(t)), self.sigma(int(t))
        key = (like.device, like.dtype)
        if key not in self._tables:
            self._tables[key] = (
                torch.tensor(self._alpha, dtype=like.dtype, device=like.device),
                torch.tensor(self._sigma, dtype=like.dtype, device=like.device),
            )
        alpha, sigma = self._tables[key]
        shape = (-1,) + (1,) * (like.ndim - 1)
        return alpha[t].view(shape), sigma[t].view(shape)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Timestep) -> Tensor:
        """The forward process: ``x_t = alpha_t x0 + sigma_t noise``."""
        a, s = self._coefficients(t, x0)
        return a * x0 + s * noise

    def snr(self, t: Tensor) -> Tensor:
        """Signal-to-noise ratio ``alpha_bar_t / (1 - alpha_bar_t)`` per example (float32)."""
        key = (t.device, "snr")
        if key not in self._snr:  # computed in float64 once, kept in float32 per device
            abar = self.alphas_cumprod
            self._snr[key] = (abar / (1 - abar)).float().to(t.device)
        return self._snr[key][t]

    # -- conversions ------------------------------------------------------------------------

    def target(self, kind: str, x0: Tensor, noise: Tensor, t: Timestep) -> Tensor:
        """What a denoiser of prediction ``kind`` should output for ``x_t`` built from these."""
        if kind == "eps":
            return noise
        if kind == "x0":
            return x0
        if kind == "v":
            a, s = self._coefficients(t, x0)
            return a * noise - s * x0
        raise ValueError(f"unknown prediction kind {kind!r}; use one of {', '.join(KINDS)}")

    def x0_and_eps(self, out: Tensor, x_t: Tensor, t: Timestep, kind: str) -> tuple[Tensor, Tensor]:
        """Both the clean-data and the noise estimate from a denoiser output of ``kind``."""
        a, s = self._coefficients(t, x_t)
        if kind == "eps":
            return (x_t - s * out) / a, out
        if kind == "x0":
            return out, (x_t - a * out) / s
        if kind == "v":
            return a * x_t - s * out, s * x_t + a * out
        raise ValueError(f"unknown prediction kind {kind!r}; use one of {', '.join(KINDS)}")

    def eps_from_x0(self, x0: Tensor, x_t: Tensor, t: Timestep) -> Tensor:
        """The noise implied by a clean-data estimate (after clipping it, say)."""
        a, s = self._coefficients(t, x_t)
        return (x_t - a * x0) / s

    def convert(self, out: Tensor, x_t: Tensor, t: Timestep, src: str, dst: str) -> Tensor:
        """A denoiser output of kind ``src`` expressed as kind ``dst``."""
        if src == dst and src in KINDS:
            return out
        x0, eps = self.x0_and_eps(out, x_t, t, src)
        if dst == "x0":
            return x0
        if dst == "eps":
            return eps
        if dst == "v":
            a, s = self._coefficients(t, x_t)
            return a * eps - s * x0
        raise ValueError(f"unknown prediction kind {dst!r}; use one of {', '.join(KINDS)}")
