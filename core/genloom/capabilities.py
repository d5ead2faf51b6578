"""The optional capabilities: every member the core or a library reads from a model
beyond what :class:`~genloom.GenerativeModel` declares.

A model has one by having its members (structural typing); readers test with
:func:`provides`, never with an undeclared ``getattr`` convention, and ``genloom plugins
check`` reports a partial or claimed-but-missing capability (``genloom_devkit.claims``). The
diffusion family's members are declared by ``genloom_diffusion.DenoisingModel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

__all__ = [
    "ExactLikelihood", "TokenLikelihood", "ImportanceWeighted", "DecodesLatents", "HasPrior",
    "HasPriorOptions", "HasStartTokens", "SelectsCache", "CAPABILITIES", "members", "missing",
    "provides",
]


@runtime_checkable
class ExactLikelihood(Protocol):
    """Exact likelihood: ``log_prob(x, cond=None)`` returns ``(n,)`` nats (log-densities
    of continuous data, log-probabilities of discrete data). Read by the ``nll`` metric
    and the conformance kit's likelihood check."""

    def log_prob(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """``(n,)`` exact log-likelihoods in nats, one per example of ``x``."""
        ...


@runtime_checkable
class TokenLikelihood(Protocol):
    """Exact likelihood of token sequences: ``token_nats(x, cond=None)`` returns the
    ``(n, t - 1)`` nats of each next token of ``x`` (the text library's ``LanguageModel``)."""

    def token_nats(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Per-token negative log-likelihoods of ``x[:, 1:]`` given the tokens before."""
        ...


@runtime_checkable
class ImportanceWeighted(Protocol):
    """A likelihood bound that tightens with samples: ``importance_log_weights(batch, k)``
    returns ``(k, n)`` log importance weights ``log p(x, z) - log q(z | x)`` (a VAE), from
    which the ``nll`` metric estimates ``log p(x)`` (IWAE)."""

    def importance_log_weights(self, batch: dict[str, Tensor], k: int) -> Tensor:
        """``(k, n)`` log weights of ``k`` latents per example of ``batch["x"]``."""
        ...


@runtime_checkable
class DecodesLatents(Protocol):
    """Decodes latents that something else drew (a prior) to data."""

    def decode_latents(self, latents: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from a batch of latents (codes, vectors)."""
        ...


@runtime_checkable
class HasPrior(Protocol):
    """A learned prior over latents (what the ``latent_prior`` sampler drives): ``prior``,
    a genloom model whose samples are this model's latents, and ``decode_latents``."""

    prior: Any

    def decode_latents(self, latents: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from what the prior sampled."""
        ...


@runtime_checkable
class HasPriorOptions(Protocol):
    """Defaults for the prior's sampler (``{"max_new_tokens": 16}``), below what the
    user sets; for a model with :class:`HasPrior`."""

    prior_options: Mapping[str, Any]


@runtime_checkable
class HasStartTokens(Protocol):
    """The ids an unprompted decoding starts from (a BOS token), read by the text
    library's decoding samplers; without it they start from a newline or id 0."""

    start_tokens: Sequence[int]


@runtime_checkable
class SelectsCache(Protocol):
    """An :class:`~genloom.AutoregressiveGenerator` whose cache is not a nest of
    batch-first tensors says how to pick rows of it (beam search, repeated prompts)."""

    def select_cache(self, cache: Any, index: Tensor) -> Any:
        """Rows ``index`` (a 1-D long tensor, repeats allowed) of ``cache``."""
        ...


#: every capability, in the order docs and reports list them
CAPABILITIES: tuple[type, ...] = (
    ExactLikelihood, TokenLikelihood, ImportanceWeighted, DecodesLatents, HasPrior,
    HasPriorOptions, HasStartTokens, SelectsCache,
)


def members(capability: type) -> tuple[str, ...]:
    """The member names of ``capability`` (its methods and typed attributes)."""
    names = set(vars(capability).get("__annotations__", {}))
    names |= {k for k, v in vars(capability).items()
              if (callable(v) or isinstance(v, property)) and not k.startswith("_")}
    return tuple(sorted(names))


def _methods(capability: type) -> tuple[str, ...]:
    return tuple(k for k in members(capability) if callable(vars(capability).get(k)))  # no properties


def missing(obj: Any, capability: type) -> list[str]:
    """The members of ``capability`` that ``obj`` lacks. For a class only methods are
    looked for (attributes are set in ``__init__``). ``hasattr``, so an ``nn.Module``'s
    sub-modules count on every Python version."""
    names = _methods(capability) if isinstance(obj, type) else members(capability)
    return [n for n in names if not hasattr(obj, n)]


def provides(obj: Any, capability: type) -> bool:
    """Whether ``obj`` (a model, a generator) has every member of ``capability``."""
    return not missing(obj, capability)


def __getattr__(name: str) -> Any:
    if name == "problems":  # the developer kit's, which alone reports them; here until 0.3
        from genloom.moved import moved_name

        return moved_name(name, "genloom_devkit.claims", "genloom-devkit", where="genloom.capabilities")
    raise AttributeError(f"module 'genloom.capabilities' has no attribute {name!r}")
