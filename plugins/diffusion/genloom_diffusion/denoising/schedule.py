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

Time is also continuous: every scalar coefficient accepts a float ``t`` in
``[0, T-1]``, interpolating ``log`` of the variance-exploding noise level
``sigma~_t = sigma_t / alpha_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)`` linearly between
the neighbouring timesteps (as diffusers' ``_sigma_to_t`` does), and
:meth:`NoiseSchedule.sigma_to_t` is its exact inverse. :attr:`NoiseSchedule.sigmas` is
that sigma table, and :meth:`NoiseSchedule.karras_timesteps` the continuous timesteps of
Karras et al. (2022)'s spacing, so a sampler that chooses its own noise levels (Karras
sigmas, say) need not round them to integer timesteps.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

#: what a denoiser may predict (``model.prediction``): the noise, the clean data, or v
PREDICTIONS = ("eps", "x0", "v")

#: a single timestep (sampling; an int, or a float for continuous time) or one per
#: example (training)
Timestep = int | float | Tensor


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
        self._log_sigmas = (0.5 * ((1 - abar).log() - abar.log())).tolist()  # log sigma~, rising
        self._tables: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}
        self._snr: dict[tuple[torch.device, str], Tensor] = {}

    # -- scalar coefficients (samplers) ---------------------------------------------------

    def alpha_bar(self, t: float) -> float:
        """``alpha_bar_t``, the signal variance kept at ``t``; 1 at ``t = -1``."""
        if float(t).is_integer():
            return 1.0 if t < 0 else self._abar[int(t)]
        return 1.0 / (1.0 + self.ve_sigma(t) ** 2)

    def alpha(self, t: float) -> float:
        """``sqrt(alpha_bar_t)``; 1 at ``t = -1`` (clean data)."""
        if float(t).is_integer():
            return 1.0 if t < 0 else self._alpha[int(t)]
        return 1.0 / math.sqrt(1.0 + self.ve_sigma(t) ** 2)

    def sigma(self, t: float) -> float:
        """``sqrt(1 - alpha_bar_t)``; 0 at ``t = -1``."""
        if float(t).is_integer():
            return 0.0 if t < 0 else self._sigma[int(t)]
        s = self.ve_sigma(t)
        return s / math.sqrt(1.0 + s * s)

    def log_snr(self, t: float) -> float:
        """``lambda_t = log(alpha_t / sigma_t)``, the time variable of DPM-Solver; +inf at -1."""
        if float(t).is_integer():
            if t < 0:
                return math.inf
            return math.log(self._alpha[int(t)]) - math.log(self._sigma[int(t)])
        return -self._log_sigma(t)

    # -- continuous time and the sigma table ----------------------------------------------

    @property
    def sigmas(self) -> Tensor:
        """The variance-exploding noise level ``sigma~_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``
        of every timestep ``0 .. T-1`` (float64, rising): diffusers' and k-diffusion's sigma
        table. ``x_t / alpha_t = x_0 + sigma~_t eps``."""
        return torch.tensor(self._log_sigmas, dtype=torch.float64).exp()

    def _check_time(self, t: float) -> None:
        if not 0 <= t <= self.timesteps - 1:
            raise ValueError(f"continuous timestep must lie in [0, {self.timesteps - 1}] (or be -1), got {t}")

    def _log_sigma(self, t: float) -> float:
        """``log sigma~`` at continuous ``t``: linear between the neighbouring timesteps."""
        self._check_time(t)
        low = min(int(math.floor(t)), self.timesteps - 2)
        w = t - low
        return (1 - w) * self._log_sigmas[low] + w * self._log_sigmas[low + 1]

    def ve_sigma(self, t: float) -> float:
        """``sigma~_t = sigma_t / alpha_t`` at a (continuous) timestep; 0 at ``t = -1``."""
        if t < 0 and float(t).is_integer():
            return 0.0
        return math.exp(self._log_sigma(t))

    def sigma_to_t(self, sigma: float) -> float:
        """The continuous timestep whose ``sigma~`` is ``sigma`` (the inverse of
        :meth:`ve_sigma`); noise levels outside the table clamp to ``0`` or ``T-1``."""
        if sigma <= 0:
            return -1.0
        log_sigma, table = math.log(sigma), self._log_sigmas
        if log_sigma <= table[0]:
            return 0.0
        if log_sigma >= table[-1]:
            return float(self.timesteps - 1)
        high = next(i for i in range(1, len(table)) if table[i] >= log_sigma)  # table rises
        low = high - 1
        span = table[high] - table[low]
        return low + (0.0 if span == 0 else (log_sigma - table[low]) / span)

    def karras_sigmas(self, steps: int, rho: float = 7.0) -> list[float]:
        """``steps`` noise levels from the table's largest ``sigma~`` to its smallest, evenly
        spaced in ``sigma^(1/rho)`` (Karras et al., 2022, eq. 5; diffusers'
        ``use_karras_sigmas``): most steps where the noise is low and detail is made."""
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        lo, hi = math.exp(self._log_sigmas[0]) ** (1 / rho), math.exp(self._log_sigmas[-1]) ** (1 / rho)
        if steps == 1:
            return [hi ** rho]
        return [(hi + i / (steps - 1) * (lo - hi)) ** rho for i in range(steps)]

    def karras_timesteps(self, steps: int, rho: float = 7.0) -> list[float]:
        """The continuous timesteps of :meth:`karras_sigmas`, first ``T-1``: what a sampler
        visits with Karras spacing (each exact, not rounded to an integer)."""
        ts = [self.sigma_to_t(s) for s in self.karras_sigmas(steps, rho)]
        ts[0] = float(self.timesteps - 1)  # the ends exactly, not through a pow/log round trip
        if steps > 1:
            ts[-1] = 0.0
        return ts

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
            return self.alpha(t), self.sigma(t)
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
        raise ValueError(f"unknown prediction kind {kind!r}; use one of {', '.join(PREDICTIONS)}")

    def x0_and_eps(self, out: Tensor, x_t: Tensor, t: Timestep, kind: str) -> tuple[Tensor, Tensor]:
        """Both the clean-data and the noise estimate from a denoiser output of ``kind``."""
        a, s = self._coefficients(t, x_t)
        if kind == "eps":
            return (x_t - s * out) / a, out
        if kind == "x0":
            return out, (x_t - a * out) / s
        if kind == "v":
            return a * x_t - s * out, s * x_t + a * out
        raise ValueError(f"unknown prediction kind {kind!r}; use one of {', '.join(PREDICTIONS)}")

    def eps_from_x0(self, x0: Tensor, x_t: Tensor, t: Timestep) -> Tensor:
        """The noise implied by a clean-data estimate (after clipping it, say)."""
        a, s = self._coefficients(t, x_t)
        return (x_t - a * x0) / s

    def convert(self, out: Tensor, x_t: Tensor, t: Timestep, src: str, dst: str) -> Tensor:
        """A denoiser output of kind ``src`` expressed as kind ``dst``."""
        if src == dst and src in PREDICTIONS:
            return out
        x0, eps = self.x0_and_eps(out, x_t, t, src)
        if dst == "x0":
            return x0
        if dst == "eps":
            return eps
        if dst == "v":
            a, s = self._coefficients(t, x_t)
            return a * eps - s * x0
        raise ValueError(f"unknown prediction kind {dst!r}; use one of {', '.join(PREDICTIONS)}")


def __getattr__(name: str) -> object:
    if name == "KINDS":  # the earlier name, removed in genloom-diffusion 0.3
        warnings.warn("genloom_diffusion KINDS is now PREDICTIONS (what a denoiser predicts); "
                      "the old name is removed in 0.3", DeprecationWarning, stacklevel=2)
        return PREDICTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
