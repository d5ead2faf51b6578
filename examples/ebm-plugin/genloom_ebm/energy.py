"""The contract between energy networks, the models that own them and Langevin sampling.

An :class:`EnergyNetwork` is a module ``E(x, sigma) -> (n,)``: one scalar energy per
example of ``x`` at noise level ``sigma``. Its score is ``-grad_x E``, computed with
autograd (:func:`energy_grad`), so a network never writes its own gradient. Networks
are registered components of kind ``energy``; any plugin can add one, and any model
that keeps the :class:`EnergyModel` protocol is sampled by this plugin's ``langevin``
sampler, whichever plugin the model and its network come from.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from genloom import ConfigError


class EnergyNetwork(nn.Module, abc.ABC):
    """``E(x, sigma)``: a scalar energy per example; lower energy, likelier data.

    Contract: ``energy(x, sigma)`` takes ``x`` of shape ``(n, *data_shape)`` and
    ``sigma`` of shape ``(n,)`` (the noise level each example was perturbed with) and
    returns a tensor of shape ``(n,)`` that is differentiable in ``x`` (twice, for
    training: the loss differentiates the score). Built as
    ``cls(cfg, data_shape=...)`` by the model that owns it.
    """

    data_shape: tuple[int, ...]

    @abc.abstractmethod
    def energy(self, x: Tensor, sigma: Tensor) -> Tensor:
        """Energies ``(n,)`` of a batch ``x`` at per-example noise levels ``sigma``."""

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.energy(x, sigma)


@runtime_checkable
class EnergyModel(Protocol):
    """What the ``langevin`` sampler reads from a model.

    * ``component(EnergyNetwork)``: the energy to follow;
    * ``noise_levels``: the sigma ladder, largest first, as a tuple of floats;
    * ``data_range``: samples are clipped to ``[-r, r]`` at the end, or None (points);
    * ``info``: the model's :class:`genloom.DataInfo` (shape and sample kind).
    """

    noise_levels: tuple[float, ...]
    info: Any

    @property
    def data_range(self) -> float | None: ...

    def component(self, interface: type) -> Any: ...


def as_sigma(sigma: Tensor | float, x: Tensor) -> Tensor:
    """``sigma`` as a ``(n,)`` tensor on ``x``'s device and dtype (a float is broadcast)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.expand(len(x)) if sigma.ndim == 0 else sigma


def energy_grad(net: EnergyNetwork, x: Tensor, sigma: Tensor | float, *,
                create_graph: bool = False) -> Tensor:
    """``grad_x E(x, sigma)``, shaped like ``x`` (the score is its negative).

    Autograd is switched on locally, so this works where the caller runs under
    ``torch.no_grad``. With ``create_graph`` the result stays differentiable in the
    network's parameters (training); without it, it is detached (sampling).
    """
    with torch.enable_grad():
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        energies = net.energy(x, as_sigma(sigma, x))
        if energies.shape != (len(x),):
            raise ValueError(f"{type(net).__name__}.energy returned shape {tuple(energies.shape)}, "
                             f"not ({len(x)},): one scalar per example")
        (grad,) = torch.autograd.grad(energies.sum(), x, create_graph=create_graph)
    return grad if create_graph else grad.detach()


def geometric_levels(sigma_max: float, sigma_min: float, levels: int) -> tuple[float, ...]:
    """``levels`` noise levels from ``sigma_max`` down to ``sigma_min``, evenly spaced in
    log sigma (the NCSN ladder, Song and Ermon 2019). Bad values are ConfigErrors."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ConfigError(f"model.levels must be a whole number of at least 2, got {levels!r}")
    if not 0 < sigma_min < sigma_max:
        raise ConfigError(f"model.sigma_min and model.sigma_max must satisfy 0 < sigma_min < "
                          f"sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    ratio = math.log(sigma_min / sigma_max) / (levels - 1)
    return tuple(sigma_max * math.exp(ratio * i) for i in range(levels - 1)) + (float(sigma_min),)


class SigmaFeatures(nn.Module):
    """``(n,)`` noise levels as ``(n, dim)`` features: ``log sigma`` through sines and
    cosines of a few fixed frequencies, then a learned two-layer MLP."""

    def __init__(self, dim: int, base: int = 16) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.exp(torch.linspace(math.log(0.25), math.log(8.0), base // 2)),
                             persistent=False)
        self.mlp = nn.Sequential(nn.Linear(base + 1, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, sigma: Tensor) -> Tensor:
        log_sigma = sigma.log()[:, None]
        args = log_sigma * self.freqs.to(sigma.dtype)
        return self.mlp(torch.cat([log_sigma / 4, args.sin(), args.cos()], dim=1))


def check_positive(**values: float) -> None:
    """A ConfigError naming the first option that is not a positive number."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"model.energy.{key} must be a positive number, got {value!r}")
