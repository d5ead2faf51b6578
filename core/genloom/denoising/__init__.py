"""The diffusion contract every denoising plugin and sampler shares.

* :class:`~genloom.denoising.schedule.NoiseSchedule` -- the forward process
  ``x_t = alpha_t x_0 + sigma_t eps`` and the conversions between ``eps``, ``x0`` and ``v``;
* :class:`~genloom.denoising.sampler.DenoisingModel` -- what a sampler reads from a model;
* :class:`~genloom.denoising.sampler.DiffusionSampler` -- the base a sampler extends
  (guided denoiser calls, starting noise, the final decode).

They live in the core so that a sampler from one plugin (an Euler or Heun solver, say)
drives the models of another without importing it.
"""

from genloom.denoising.sampler import DenoisingModel, DiffusionSampler, Run, estimates, pairs
from genloom.denoising.schedule import KINDS, NoiseSchedule

__all__ = ["KINDS", "DenoisingModel", "DiffusionSampler", "NoiseSchedule", "Run", "estimates", "pairs"]
