"""Walks through a model's latent space: the decoded path between seeded latents.

Any model with a latent prior (``has_latent_space``) and a one-shot ``Generator``
qualifies (the VAE's decoder, the GAN's generator), whatever plugin it comes from.
Spherical interpolation (``slerp``) keeps intermediate points at the typical radius
of a Gaussian latent, where a straight line (``lerp``) passes through the
low-norm middle that the generator rarely saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom.interfaces import AutoregressiveGenerator, Generator, IncompatibleSamplerError, Samples
from genloom.samplers.prior import PriorSampler
from genloom.sampling import not_conditional_message

Method = Literal["slerp", "lerp"]
METHODS: tuple[str, ...] = ("slerp", "lerp")


#: the largest seed: what the run config's ``seed`` accepts (numpy and Lightning seed with 32 bits)
MAX_SEED = 2**32 - 1


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points ``(1 - t) a + t b`` for each ``t``: shape ``(len(t), *a.shape)``."""
    t = t.reshape(-1, *([1] * a.dim())).to(a)
    return (1 - t) * a + t * b


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation from ``a`` to ``b`` (flattened), falling back to ``lerp``
    when they are (anti)parallel and the great circle is undefined."""
    fa, fb = a.flatten().double(), b.flatten().double()
    cos = torch.dot(fa, fb) / (fa.norm() * fb.norm()).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4 or (torch.pi - omega).abs() < 1e-4:
        return lerp(a, b, t)
    t = t.double().reshape(-1, 1)
    out = (torch.sin((1 - t) * omega) * fa + torch.sin(t * omega) * fb) / torch.sin(omega)
    return out.reshape(len(t), *a.shape).to(a.dtype)


def latent_generator(model: Any) -> Generator:
    """The one-shot Generator behind ``model``'s latent prior, or a clear error."""
    gen = model.component(Generator) if hasattr(model, "component") else None
    if gen is None or isinstance(gen, AutoregressiveGenerator) or not getattr(model, "has_latent_space", False):
        raise IncompatibleSamplerError(
            f"model {type(model).__name__} has no latent prior with a one-shot Generator; "
            "interpolation works with latent-variable models such as the VAE and the GAN"
        )
    return gen


def interpolate(
    model: Any,
    seeds: Sequence[int],
    *,
    steps: int = 8,
    method: str = "slerp",
    cond: int | None = None,
) -> Samples:
    """Decode ``steps`` points on the path between each pair of consecutive seeds.

    Seed ``s`` stands for the latent ``torch.randn`` draws from a generator seeded with
    ``s``, so the same seeds give the same strip. Samples come back row by row:
    ``extras["nrow"] == steps`` and row ``i`` runs from seed ``i`` to seed ``i + 1``.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown interpolation '{method}'; choose one of {', '.join(METHODS)}")
    if len(seeds) < 2:
        raise ConfigError("interpolation needs at least two seeds, e.g. --seeds 0,1")
    if steps < 2:
        raise ConfigError(f"--steps must be at least 2, got {steps}")
    for s in seeds:
        if not 0 <= int(s) <= MAX_SEED:  # torch.Generator.manual_seed overflows past 64 bits
            raise ConfigError(f"--seeds: seed {s} is out of range; give seeds from 0 to {MAX_SEED}")
    gen = latent_generator(model)
    if model.conditional and cond is None:
        raise ConfigError(f"model {type(model).__name__} is conditional: pass a class label, e.g. --cond 7")
    if cond is not None and not model.conditional:
        raise ConfigError(not_conditional_message(model))
    classes = model.info.num_classes
    if cond is not None and classes and not 0 <= cond < classes:
        raise ConfigError(f"--cond {cond}: the model knows classes 0 to {classes - 1}")
    anchors = [torch.randn(gen.latent_shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    walk = slerp if method == "slerp" else lerp
    t = torch.linspace(0, 1, steps)
    z = torch.cat([walk(a, b, t) for a, b in zip(anchors[:-1], anchors[1:])])
    labels = None if cond is None else torch.full((len(z),), int(cond))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            samples = PriorSampler().decode(model, z, labels)
    finally:
        model.train(was_training)
    samples.extras.update(nrow=steps, latents=z)
    return samples
