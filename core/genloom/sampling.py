"""The one path every sample takes (CLI, sample grids, metrics, Python API): resolve the
sampler (the model's ``default_sampler`` when none is named), check it can drive the
model and takes the options given, then call it in eval mode, under ``no_grad`` unless
it ``needs_grad``. Writing samples is their kind's job (:mod:`genloom.kinds`).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError, did_you_mean
from genloom.interfaces import Sampler, Samples



def not_conditional_message(model: Any) -> str:
    """The error for a condition given to an unconditional model (suggesting
    ``model.conditional=true`` only where the model has that option)."""
    msg = f"model {type(model).__name__} is not conditional; drop --cond"
    try:
        has_option = "conditional" in model.cfg
    except TypeError:  # a dataclass or plain object rather than a mapping
        has_option = hasattr(model.cfg, "conditional")
    return msg + (" or train with model.conditional=true" if has_option else "")

def get_sampler(name: str, model: Any = None) -> Sampler:
    """An instance of the sampler component ``name`` (samplers are stateless); a short
    name several plugins provide means ``model``'s own plugin's, then the core's."""
    from genloom.plugins import get_registry

    registry = get_registry()
    prefer = registry.owner_of(model) if model is not None else None
    cls = registry.resolve("sampler", name, prefer=prefer).load()
    return cls()


def default_sampler_of(model: Any) -> Sampler:
    """The sampler the model names in ``default_sampler``; a bad name is the model's
    mistake, so the error says so and how to get round it."""
    from genloom.errors import ComponentError

    name = model.default_sampler
    try:
        return get_sampler(name, model)
    except ComponentError as exc:
        raise ComponentError(
            f"model {type(model).__name__}'s default_sampler '{name}' does not resolve: {exc}; "
            "fix default_sampler in the model's class, or name a sampler with --sampler "
            "(sample.sampler in a config)"
        ) from None


def _check_options(sampler: Sampler, options: dict[str, Any]) -> None:
    params = inspect.signature(sampler.sample).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n not in ("cond", "generator")]
    for key, value in options.items():
        if key not in allowed:
            raise ConfigError(f"sampler {type(sampler).__name__} has no option '{key}'"
                              f"{did_you_mean(key, allowed)}; valid options: {', '.join(allowed) or 'none'}")
        default = params[key].default
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"sampler option {key}={value!r} must be a number (default {default})")


def draw(
    model: Any,
    n: int,
    *,
    sampler: str | None = None,
    cond: Tensor | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> Samples:
    """Sample ``n`` items from ``model`` with ``sampler`` (default: the model's own)."""
    name = sampler or getattr(model, "default_sampler", None)
    if not name:
        raise ConfigError(f"model {type(model).__name__} has no default sampler (it does not generate on "
                          "its own, e.g. the first stage of a two-stage model); name one with --sampler "
                          "or sample the model built on it")
    chosen = get_sampler(name) if sampler else default_sampler_of(model)
    chosen.check(model)
    _check_options(chosen, options)
    if cond is not None and not model.conditional:
        raise ConfigError(not_conditional_message(model))
    was_training = model.training
    model.eval()
    try:
        # a sampler that follows gradients of the model (Langevin) declares it
        with torch.set_grad_enabled(chosen.needs_grad):
            samples = chosen.sample(model, n, cond=cond, generator=generator, **options)
    finally:
        model.train(was_training)
    if samples.data.requires_grad:
        samples.data = samples.data.detach()
    return samples
