"""The four interfaces every generative model in genloom is made of.

They are plain ``torch.nn.Module`` subclasses (Sampler excepted), usable without
Lightning, so a researcher can use them in a notebook and a plugin can compose with
another plugin's parts knowing only these contracts:

* :class:`Encoder` maps data to a latent (a distribution or a tensor).
* :class:`Generator` maps a latent (or a context) to data in one shot;
  :class:`AutoregressiveGenerator` produces one step at a time with an explicit cache.
* :class:`Denoiser` predicts noise, clean data or velocity from a noisy input.
* :class:`Sampler` draws samples from a model through one of the above.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from genloom.errors import GenloomError


@dataclass
class DiagonalGaussian:
    """A diagonal Gaussian latent: what a VAE-style encoder returns.

    Sampling takes an explicit ``torch.Generator`` so results depend only on the seed.
    """

    mean: Tensor
    logvar: Tensor

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def rsample(self, generator: torch.Generator | None = None) -> Tensor:
        """A reparameterised sample: differentiable with respect to mean and logvar."""
        noise = torch.randn(
            self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
        )
        return self.mean + self.std * noise

    def kl(self) -> Tensor:
        """KL divergence to the standard normal prior, summed over latent dims, per example."""
        kl = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return kl.flatten(1).sum(dim=1)

    def log_prob(self, z: Tensor) -> Tensor:
        """Log density of ``z``, summed over latent dims, per example."""
        lp = -0.5 * ((z - self.mean) ** 2 / self.logvar.exp() + self.logvar + math.log(2 * math.pi))
        return lp.flatten(1).sum(dim=1)


#: What an encoder returns: a distribution, a plain tensor, or discrete codes.
Latent = DiagonalGaussian | Tensor


class Encoder(nn.Module, abc.ABC):
    """Maps data (and an optional condition) to a latent.

    Contract: ``encode(x, cond)`` returns a :class:`DiagonalGaussian` or a tensor whose
    per-example shape is ``latent_shape``. ``cond`` is a tensor of class labels (or other
    conditioning) with the same batch size as ``x``, or None.
    """

    latent_shape: tuple[int, ...]

    @abc.abstractmethod
    def encode(self, x: Tensor, cond: Tensor | None = None) -> Latent:
        """Encode a batch of data into a latent."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Latent:
        return self.encode(x, cond)


class Generator(nn.Module, abc.ABC):
    """Maps a latent (or a context) to data in one shot.

    Contract: ``forward(z, cond)`` takes ``z`` of shape ``(n, *latent_shape)`` and returns
    data of shape ``(n, *data_shape)``. A generator with a latent prior draws ``z`` from a
    standard normal, which is what the core's ``prior`` sampler relies on.
    """

    latent_shape: tuple[int, ...]
    data_shape: tuple[int, ...]

    @abc.abstractmethod
    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Generate a batch of data from a batch of latents."""


class AutoregressiveGenerator(Generator):
    """Produces sequences one step at a time; the cache is explicit, never hidden state.

    Contract: ``step(tokens, cache, cond)`` takes the new tokens ``(n, t)`` not yet seen by
    ``cache`` and returns logits ``(n, t, vocab_size)`` and the updated cache. Passing the
    whole prefix with ``cache=None`` must give the same logits as feeding it piecewise
    with the cache. The module itself keeps no state between calls.
    """

    vocab_size: int
    context_length: int

    @abc.abstractmethod
    def step(
        self, tokens: Tensor, cache: Any = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Any]:
        """Logits for every position of ``tokens`` given the cache, and the new cache."""

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        logits, _ = self.step(z, None, cond)
        return logits


Prediction = Literal["eps", "x0", "v"]


class Denoiser(nn.Module, abc.ABC):
    """Predicts from a noisy input ``x_t`` at time ``t`` what its ``prediction`` kind says.

    Contract: ``forward(x_t, t, cond)`` returns a tensor shaped like ``x_t``; ``t`` is a
    tensor of shape ``(n,)`` (integer steps or continuous times, as the noise schedule
    of the model that owns it defines). ``prediction`` is ``"eps"`` (the noise), ``"x0"``
    (the clean data) or ``"v"`` (velocity); a shared noise-schedule object converts
    between them, so samplers work with any kind.
    """

    prediction: Prediction = "eps"

    @abc.abstractmethod
    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        """Predict ``prediction`` for a batch of noisy inputs."""


@dataclass
class Samples:
    """What a sampler returns: a batch of data and what kind of data it is.

    ``kind`` tells the core how to show it: ``image`` (``(n, c, h, w)`` in [-1, 1]),
    ``points`` (``(n, d)``), or ``tokens`` (``(n, length)`` integer ids).
    """

    data: Tensor
    kind: str
    cond: Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class IncompatibleSamplerError(GenloomError):
    """A sampler was asked to drive a model that lacks the interface it needs."""


class Sampler(abc.ABC):
    """Draws samples from a model through the interface it declares in ``drives``.

    Samplers are stateless between calls: all randomness comes from the
    ``torch.Generator`` passed in, so equal seeds give equal samples. ``drives`` names
    the interface class the sampler needs; :meth:`check` turns a mismatch into a clear
    error instead of a crash deep inside sampling.
    """

    drives: ClassVar[type[nn.Module]]
    #: extra capabilities the model must declare, e.g. ``("has_latent_space",)``
    requires: ClassVar[tuple[str, ...]] = ()

    def check(self, model: Any) -> nn.Module:
        """Return the component this sampler drives, or raise IncompatibleSamplerError."""
        name = type(self).__name__
        part = model.component(self.drives) if hasattr(model, "component") else None
        if part is None:
            raise IncompatibleSamplerError(
                f"sampler {name} drives a {self.drives.__name__}, but model "
                f"{type(model).__name__} has none; pick a sampler listed by 'genloom list samplers'"
            )
        for cap in self.requires:
            if not getattr(model, cap, False):
                raise IncompatibleSamplerError(
                    f"sampler {name} needs a model with {cap}, and {type(model).__name__} "
                    "does not declare it"
                )
        return part

    @abc.abstractmethod
    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> Samples:
        """Draw ``n`` samples from ``model``."""
