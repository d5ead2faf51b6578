"""The four interfaces every generative model in genloom is made of.

Plain ``torch.nn.Module`` subclasses (Sampler excepted), usable without Lightning, so a
plugin can compose with another plugin's parts knowing only these contracts:
:class:`Encoder` (data to a latent), :class:`Generator` (latent to data, or one step at
a time: :class:`AutoregressiveGenerator`; both ways: :class:`InvertibleGenerator`),
:class:`Denoiser` and :class:`Sampler`.
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
    """A diagonal Gaussian latent: what a VAE-style encoder returns (sampled with an explicit
    ``torch.Generator``, so results depend only on the seed)."""

    mean: Tensor
    logvar: Tensor

    @property
    def std(self) -> Tensor:
        """The standard deviation, ``exp(logvar / 2)``."""
        return torch.exp(0.5 * self.logvar)

    def rsample(self, generator: torch.Generator | None = None) -> Tensor:
        """A reparameterised sample: differentiable with respect to mean and logvar."""
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                            dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def kl(self) -> Tensor:
        """KL divergence to the standard normal prior, summed over latent dims, per example."""
        kl = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return kl.flatten(1).sum(dim=1)

    def log_prob(self, z: Tensor) -> Tensor:
        """Log density of ``z``, summed over latent dims, per example."""
        lp = -0.5 * ((z - self.mean) ** 2 / self.logvar.exp() + self.logvar + math.log(2 * math.pi))
        return lp.flatten(1).sum(dim=1)


@dataclass
class FlowLatent:
    """An exact latent ``z = f(x)`` and ``logdet = log|det df/dx|`` per example (what an
    :class:`InvertibleGenerator` encodes to), so ``log p(x) = log N(z; 0, I) + logdet``."""

    z: Tensor
    logdet: Tensor

    def log_prob(self) -> Tensor:
        """``log p(x)`` per example under a standard normal base distribution (nats)."""
        base = -0.5 * (self.z.pow(2) + math.log(2 * math.pi))
        return base.flatten(1).sum(dim=1) + self.logdet


@dataclass
class DiscreteLatent:
    """Discrete codes: what a quantizing encoder (a VQ-VAE's) returns.

    ``codes`` holds integer ids in ``[0, num_codes)`` with shape ``(n, *code_shape)``
    (a grid for images). ``quantized`` is the batch of code vectors the decoder reads,
    with the straight-through gradient in training; ``losses`` holds the terms the
    quantizer adds to the objective (codebook, commitment), each a scalar.
    """

    codes: Tensor
    num_codes: int
    quantized: Tensor | None = None
    losses: dict[str, Tensor] = field(default_factory=dict)


#: What an encoder returns: a distribution, discrete codes, an exact latent with its
#: log-determinant, or a plain tensor.
Latent = DiagonalGaussian | DiscreteLatent | FlowLatent | Tensor


class Encoder(nn.Module, abc.ABC):
    """Maps data (and an optional condition) to a latent.

    Contract: ``encode(x, cond)`` returns a :class:`Latent` (a :class:`DiagonalGaussian`,
    :class:`DiscreteLatent`, :class:`FlowLatent` or a tensor) whose per-example shape is
    ``latent_shape``. ``cond`` is a tensor of class labels (or other
    conditioning) with the same batch size as ``x``, or None.
    """

    latent_shape: tuple[int, ...]

    @abc.abstractmethod
    def encode(self, x: Tensor, cond: Tensor | None = None) -> Latent:
        """Encode a batch of data into a latent."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Latent:
        """Same as :meth:`encode`; ``module(x)`` works, as for any ``nn.Module``."""
        return self.encode(x, cond)


class DiscreteEncoder(Encoder):
    """An encoder whose latent is discrete codes (vector quantization).

    Contract: ``encode(x, cond)`` returns a :class:`DiscreteLatent` whose ``codes`` have
    shape ``(n, *code_shape)`` with ids below ``num_codes``; ``embed(codes)`` maps codes
    back to the vectors a decoder reads (shape ``(n, *latent_shape)``), so anything that
    produces codes (an autoregressive prior, say) can be decoded without the data.
    """

    num_codes: int
    code_shape: tuple[int, ...]

    @abc.abstractmethod
    def encode(self, x: Tensor, cond: Tensor | None = None) -> DiscreteLatent:
        """Quantize a batch of data to codes."""

    @abc.abstractmethod
    def embed(self, codes: Tensor) -> Tensor:
        """The code vectors for integer ``codes`` ``(n, *code_shape)``."""


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
    def step(self, tokens: Tensor, cache: Any = None, cond: Tensor | None = None) -> tuple[Tensor, Any]:
        """Logits for every position of ``tokens`` given the cache, and the new cache."""

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Next-token logits for every position of the token batch ``z``, without a cache:
        one full pass of :meth:`step`, for training and export."""
        logits, _ = self.step(z, None, cond)
        return logits


class InvertibleGenerator(Generator, Encoder):
    """A bijection between latent and data (a normalizing flow): Generator and Encoder at once.

    Contract: ``forward(z, cond)`` maps latents to data, as every Generator does;
    ``inverse(x, cond)`` maps data back and returns ``(z, logdet)`` with
    ``logdet = log|det dz/dx|`` per example, so that ``forward(inverse(x)[0]) == x``
    and the exact log-likelihood is :meth:`log_prob`. The latent is standard normal,
    so the core's ``prior`` sampler and ``genloom interpolate`` work unchanged, and
    ``encode`` (the Encoder side) returns a :class:`FlowLatent`.
    """

    @abc.abstractmethod
    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from latents (the generating direction)."""

    @abc.abstractmethod
    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latents of ``x`` and ``log|det dz/dx|`` per example (the normalizing direction)."""

    def encode(self, x: Tensor, cond: Tensor | None = None) -> FlowLatent:
        """The exact latent of ``x`` and ``log|det dz/dx|``, from :meth:`inverse`: a flow's
        encoder is its own inverse, so it needs no separate network."""
        z, logdet = self.inverse(x, cond)
        return FlowLatent(z, logdet)

    def log_prob(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Exact ``log p(x)`` per example, in nats, under the standard normal base."""
        return self.encode(x, cond).log_prob()


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

    ``kind`` names a registered ``sample_kind`` component, which knows how to write
    the data to files and how metrics read it. The core's kinds: ``image``
    (``(n, c, h, w)`` in [-1, 1]), ``points`` (``(n, d)``), ``tokens`` (``(n, length)``
    integer ids); plugins add their own (see :class:`genloom.kinds.SampleKind`).
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
    #: extra capabilities the model must have: names of ``GenerativeModel`` attributes
    #: that must be set (``"has_latent_space"``) or protocols of
    #: :mod:`genloom.capabilities` whose members it must have (``HasPrior``)
    requires: ClassVar[tuple[str | type, ...]] = ()
    #: True for samplers that differentiate through the model while sampling (Langevin
    #: dynamics follows the gradient of an energy): ``draw`` then runs ``sample`` with
    #: autograd on instead of under ``torch.no_grad``. Parameters still get no gradient
    #: the sampler does not ask for; return detached data.
    needs_grad: ClassVar[bool] = False

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
            if isinstance(cap, type):
                from genloom.capabilities import missing

                lacks = missing(model, cap)
                if lacks:
                    raise IncompatibleSamplerError(
                        f"sampler {name} needs a model with {', '.join(lacks)} "
                        f"(genloom.capabilities.{cap.__name__}); {type(model).__name__} has none"
                    )
                continue
            value = getattr(model, cap, None)
            if value is None or value is False:  # not truthiness: a tensor is a capability too
                raise IncompatibleSamplerError(f"sampler {name} needs a model with {cap}, and "
                                               f"{type(model).__name__} does not declare it")
        return part

    @abc.abstractmethod
    def sample(self, model: Any, n: int, *, cond: Tensor | None = None,
               generator: torch.Generator | None = None, **options: Any) -> Samples:
        """Draw ``n`` samples from ``model``."""
