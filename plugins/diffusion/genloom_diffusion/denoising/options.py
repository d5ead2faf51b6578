"""A diffusion sampler's options, declared as data.

genloom reads a sampler's options from the keyword-only parameters of its ``sample``
(``genloom sample --sampler ddim eta=0.5`` is checked against them, and
``genloom serve`` lists them). A :class:`~genloom_diffusion.DiffusionSampler` subclass
does not write that signature: it declares its own options in a table,
``options = {"eta": Option(0.0, "0 deterministic .. 1 DDPM-like", between(0, 1))}``,
and the base gives the class a ``sample`` whose signature is ``steps``, those
options, then ``guidance`` and ``clip`` (see :func:`signed_sample`), and which checks
each value before the loop starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Samples

#: ``check(name, value)``: the value to use, or a ConfigError saying what is wrong
Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Option:
    """One sampler option: its ``default``, a line of ``help`` (the ``sample``
    docstring is made of them), how a value is checked (None: taken as given), and
    its type as ``sample``'s signature shows it (default: the default's type)."""

    default: Any
    help: str
    check: Check | None = None
    annotation: str = ""


def number(name: str, value: Any) -> float:
    """Any real number, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    return float(value)


def positive(name: str, value: Any) -> float:
    """A number above 0, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def between(low: float, high: float) -> Check:
    """A check for a number in ``[low, high]`` (returned as a float)."""

    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ConfigError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")
        return float(value)

    return check


def flag(name: str, value: Any) -> bool:
    """True or false."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def optional_flag(name: str, value: Any) -> bool | None:
    """True, false, or None (the model decides)."""
    return None if value is None else flag(name, value)


#: the options every diffusion sampler may take; a sampler names those it takes in
#: ``common_options`` (``steps`` is checked by the sampler's ``grid``, which knows the range)
COMMON = {
    "steps": Option(None, "timesteps to visit", annotation="int | None"),
    "guidance": Option(1.0, "classifier-free guidance scale, 1 for none", number),
    "clip": Option(None, "clip predicted x0 to [-1, 1] (default: for pixel-space images)",
                   optional_flag, "bool | None"),
}


def declared(cls: type) -> dict[str, Option]:
    """A sampler class's options in the order its ``sample`` lists them: ``steps``, its
    own (``cls.options``), then the other common ones it takes."""
    common = {name: COMMON[name] for name in cls.common_options}
    first = {"steps": common.pop("steps")} if "steps" in common else {}
    return {**first, **cls.options, **common}


def checked(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Every declared option's value (the given one checked, else the default); an
    undeclared name is a TypeError, as for any Python function."""
    options = declared(cls)
    for name in given:
        if name not in options:
            raise TypeError(f"{cls.__name__}.sample() got an unexpected keyword argument {name!r}")
    values = {}
    for name, option in options.items():
        value = given.get(name, option.default)
        values[name] = value if option.check is None else option.check(name, value)
    return values


def signed_sample(cls: type, impl: Callable[..., Samples]) -> Callable[..., Samples]:
    """A ``sample`` method for ``cls`` that runs ``impl`` and whose signature and
    docstring list ``cls``'s declared options (what genloom checks options against)."""

    def sample(self: Any, model: Any, n: int, *, cond: Tensor | None = None,
               generator: torch.Generator | None = None, **options: Any) -> Samples:
        return impl(self, model, n, cond=cond, generator=generator, **options)

    keyword, positional = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [  # annotations as the source writes them (``from __future__ import annotations``)
        inspect.Parameter("self", positional),
        inspect.Parameter("model", positional, annotation="Any"),
        inspect.Parameter("n", positional, annotation="int"),
        inspect.Parameter("cond", keyword, default=None, annotation="Tensor | None"),
        inspect.Parameter("generator", keyword, default=None, annotation="torch.Generator | None"),
    ]
    options = declared(cls)
    params += [inspect.Parameter(name, keyword, default=o.default,
                                 annotation=o.annotation or type(o.default).__name__)
               for name, o in options.items()]
    sample.__signature__ = inspect.Signature(params, return_annotation="Samples")  # type: ignore[attr-defined]
    default_steps = getattr(cls, "default_steps", None)
    helps = []
    for name, option in options.items():
        default = option.default
        if name == "steps":
            default = "every timestep" if default_steps is None else default_steps
        shown = "" if "default" in option.help else f" (default {default})"
        helps.append(f"``{name}``: {option.help}{shown}")
    sample.__doc__ = f"Draw ``n`` samples. {'; '.join(helps)}."
    sample.__qualname__ = f"{cls.__qualname__}.sample"
    sample.__module__ = cls.__module__
    sample.signed = True  # type: ignore[attr-defined]
    return sample
