"""genloom-diffusion: the diffusion family's library, and a denoising diffusion model.

A library distribution first: its public API, importable from this package, is the
contract every diffusion sampler and denoising model shares, whichever plugin it
comes from (a third-party sampler subclasses :class:`DiffusionSampler` as a
diffusers scheduler subclasses diffusers' base):

* :class:`NoiseSchedule` -- the forward process and the conversions between
  ``eps``, ``x0`` and ``v``;
* :class:`DenoisingModel` -- what a sampler reads from a model;
* :class:`DiffusionSampler` -- the base a sampler extends: it owns the loop, a
  subclass writes ``step`` (and its ``grid`` of times, when it is not the noise
  schedule's); :class:`Run` is one sampling call's state, and :func:`pairs` and
  :func:`estimates` are the helpers a ``step`` uses; :class:`SigmaSpaceSampler` is the
  base of samplers that integrate ``x_t / alpha_t`` (Euler, Heun);
* :class:`Option` -- one of a sampler's own options, declared as data, with the
  checks :func:`number`, :func:`positive`, :func:`between` and :func:`flag`;
* :class:`FirstStage` and :class:`FirstStageConfig` -- a latent model's frozen
  autoencoder (another run's), composed by latent diffusion and by two-stage models
  such as a VQ-VAE's prior.

It also ships the ``diffusion`` model, its denoisers, noise schedules and the DDPM,
DDIM, DPM-Solver++, Euler and flow samplers (registered by :mod:`genloom_diffusion.plugin`).

The names load lazily, so that importing the plugin's entry module (which genloom
does for every command) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "NoiseSchedule": "genloom_diffusion.denoising.schedule",
    "PREDICTIONS": "genloom_diffusion.denoising.schedule",
    "DenoisingModel": "genloom_diffusion.denoising.sampler",
    "DiffusionSampler": "genloom_diffusion.denoising.sampler",
    "Run": "genloom_diffusion.denoising.sampler",
    "estimates": "genloom_diffusion.denoising.sampler",
    "pairs": "genloom_diffusion.denoising.sampler",
    "SigmaSpaceSampler": "genloom_diffusion.denoising.sigma",
    "Option": "genloom_diffusion.denoising.options",
    "between": "genloom_diffusion.denoising.options",
    "flag": "genloom_diffusion.denoising.options",
    "number": "genloom_diffusion.denoising.options",
    "positive": "genloom_diffusion.denoising.options",
    "FirstStage": "genloom_diffusion.first_stage",
    "FirstStageConfig": "genloom_diffusion.first_stage",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "KINDS":  # the earlier name of PREDICTIONS: warns, removed in 0.3
        return importlib.import_module("genloom_diffusion.denoising.schedule").KINDS
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom_diffusion' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from genloom_diffusion.denoising.options import Option, between, flag, number, positive
    from genloom_diffusion.denoising.sampler import DenoisingModel, DiffusionSampler, Run, estimates, pairs
    from genloom_diffusion.denoising.sigma import SigmaSpaceSampler
    from genloom_diffusion.denoising.schedule import PREDICTIONS, NoiseSchedule
    from genloom_diffusion.first_stage import FirstStage, FirstStageConfig
