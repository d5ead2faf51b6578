"""The energy-based model: any registered energy network, trained by multi-level
denoising score matching (NCSN, Song and Ermon 2019), sampled by annealed Langevin
dynamics (``langevin``).

Denoising score matching: perturb a batch with Gaussian noise of a level ``sigma``
drawn from a geometric ladder and regress the model's score ``-grad_x E(x~, sigma)``
onto the score of the perturbation kernel, ``-(x~ - x) / sigma^2``. Weighted by
``sigma^2`` (so every level contributes on the same scale) the loss per example is
``|sigma * score + z|^2 / 2`` summed over data dimensions, with ``x~ = x + sigma z``.
The score is a gradient of the network, so the loss differentiates through
``torch.autograd.grad(..., create_graph=True)``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, DataInfo, GenerativeModel, build_component
from genloom.kinds import get_kind

from genloom_ebm.energy import EnergyNetwork, energy_grad, geometric_levels


class EBM(GenerativeModel):
    """Energy-based model ``E(x, sigma)`` with a registered ``energy`` network.

    It keeps the plugin's :class:`~genloom_ebm.energy.EnergyModel` protocol:
    ``component(EnergyNetwork)``, ``noise_levels`` (largest first) and ``data_range``,
    which is what the ``langevin`` sampler reads.
    """

    likelihood = "none"  # an unnormalized energy: no likelihood or bound to report
    has_latent_space = False
    default_sampler = "ebm:langevin"
    subcomponents = {"energy": ("energy", "ebm:mlp")}

    @dataclass
    class Config:
        #: the largest noise level: about the largest distance between training points
        sigma_max: float = 5.0
        #: the smallest noise level: below the scale of detail in the data
        sigma_min: float = 0.01
        #: rungs of the geometric ladder from sigma_max to sigma_min
        levels: int = 10

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if not get_kind(info.kind).continuous:  # the kind says so: a plugin's kind works too
            raise ConfigError(f"ebm models continuous data (images, points), not {info.kind!r} data")
        self.noise_levels = geometric_levels(cfg.sigma_max, cfg.sigma_min, cfg.levels)
        self.energy_net = build_component("energy", cfg.energy, data_shape=tuple(info.shape))
        if not isinstance(self.energy_net, EnergyNetwork):
            raise ConfigError(f"energy '{cfg.energy.name}' is not a genloom_ebm EnergyNetwork")
        self.register_buffer("sigmas", torch.tensor(self.noise_levels), persistent=False)

    @property
    def data_range(self) -> float | None:
        """Data whose kind has a value range (images: [-1, 1]) is clipped there by the
        Langevin sampler; points have none and are not."""
        value_range = get_kind(self.info.kind).value_range
        return None if value_range is None else max(abs(v) for v in value_range)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        """The sigma^2-weighted DSM loss on one batch (see the module docstring).

        The score is a gradient, so even the validation loss needs autograd on ``x``. The
        caller may run under ``no_grad`` (``genloom evaluate``) or inference mode
        (Lightning's validation); autograd is switched back on here, and the loss then
        comes without a graph to the parameters.
        """
        create_graph = torch.is_grad_enabled()
        inference = torch.is_inference_mode_enabled()
        with torch.inference_mode(False) if inference else contextlib.nullcontext():
            x = batch["x"]
            x = x.clone() if x.is_inference() else x  # inference tensors cannot enter autograd
            sigmas = self.sigmas.clone() if self.sigmas.is_inference() else self.sigmas
            idx = torch.randint(0, len(sigmas), (len(x),), device=x.device)
            sigma = sigmas[idx].to(x.dtype)
            z = torch.randn_like(x)
            scale = sigma.view(-1, *([1] * (x.ndim - 1)))
            grad = energy_grad(self.energy_net, x + scale * z, sigma, create_graph=create_graph)
            # sigma * score + z = z - sigma * grad_x E; its mean square is least for the true score
            residual = z - scale * grad
            loss = 0.5 * residual.pow(2).flatten(1).sum(1).mean()
        return {"loss": loss}
