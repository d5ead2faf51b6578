"""What a model claims without the members: half a capability, ``likelihood = "exact"``
with no exact log-likelihood, the ``latent_prior`` sampler without a prior.

A report for plugin authors, so it lives in the developer kit (``genloom plugins check``
on a class, the conformance kit's ``check_contract`` on a built model); the capabilities
themselves are the core's :mod:`genloom.capabilities`.
"""

from __future__ import annotations

from typing import Any

from genloom.capabilities import (
    CAPABILITIES, ExactLikelihood, HasPrior, HasPriorOptions, TokenLikelihood, members, missing, provides,
)


def problems(model: Any) -> list[str]:
    """What a model (an instance, or a class before it is built) claims without the
    members: a capability it has only part of, ``likelihood = "exact"`` with no exact
    log-likelihood, the ``latent_prior`` sampler without a prior. One line each."""
    name = model.__name__ if isinstance(model, type) else type(model).__name__
    out = []
    for cap in CAPABILITIES:
        lacks = missing(model, cap)
        have = [m for m in members(cap) if m not in lacks and hasattr(model, m)]
        if cap is HasPrior:  # decode_latents alone is DecodesLatents, not half a prior
            have = [m for m in have if m == "prior"]
        if lacks and have:
            out.append(f"model {name} has {', '.join(have)} but not {', '.join(lacks)}: "
                       f"give it all of genloom.capabilities.{cap.__name__}")
    if any(hasattr(model, m) for m in members(HasPriorOptions)) and missing(model, HasPrior):
        out.append(f"model {name} has prior_options but no prior and decode_latents "
                   "(genloom.capabilities.HasPrior)")
    sampler = str(getattr(model, "default_sampler", None) or "")
    if sampler.rpartition(":")[2] == "latent_prior" and missing(model, HasPrior):
        out.append(f"model {name}'s default sampler latent_prior needs "
                   f"{', '.join(missing(model, HasPrior))} (genloom.capabilities.HasPrior)")
    if getattr(model, "likelihood", "none") == "exact" and not isinstance(model, type):
        from genloom.interfaces import InvertibleGenerator

        flow = any(isinstance(m, InvertibleGenerator) for m in getattr(model, "modules", list)())
        if not (flow or provides(model, ExactLikelihood) or provides(model, TokenLikelihood)):
            out.append(f"model {name} claims likelihood='exact' but has no log_prob(x, cond), "
                       "token_nats(x, cond) or InvertibleGenerator; declare 'bound' or 'none'")
    return out
