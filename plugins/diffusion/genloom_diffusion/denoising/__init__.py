"""The diffusion contract every denoising plugin and sampler shares.

* :class:`~genloom_diffusion.denoising.schedule.NoiseSchedule` -- the forward process
  ``x_t = alpha_t x_0 + sigma_t eps`` and the conversions between ``eps``, ``x0`` and ``v``;
* :class:`~genloom_diffusion.denoising.sampler.DenoisingModel` -- what a sampler reads from a model;
* :class:`~genloom_diffusion.denoising.sampler.DiffusionSampler` -- the base a sampler extends
  (guided denoiser calls, starting noise, the final decode).

They are the public API of the genloom-diffusion library (re-exported from
``genloom_diffusion``), so that a sampler from one plugin (an Euler or Heun solver,
say) drives the models of another, and a model plugin keeps the contract, without
importing each other: both depend on this library, as a diffusers scheduler
subclasses diffusers' base. Until genloom 0.3 ``genloom.denoising`` is an alias.
"""

from genloom_diffusion.denoising.sampler import DenoisingModel, DiffusionSampler, Run, estimates, pairs
from genloom_diffusion.denoising.schedule import PREDICTIONS, NoiseSchedule

__all__ = ["PREDICTIONS", "DenoisingModel", "DiffusionSampler", "NoiseSchedule", "Run", "estimates", "pairs"]


def __getattr__(name: str) -> object:
    if name == "KINDS":  # the earlier name of PREDICTIONS: warns, removed in 0.3
        from genloom_diffusion.denoising import schedule

        return schedule.KINDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
