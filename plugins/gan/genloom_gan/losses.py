"""Adversarial objectives and discriminator penalties, as plain functions of logits.

Each loss is written for the player that minimises it. ``ns`` is the non-saturating
loss of the original GAN paper; ``hinge`` the margin loss used with spectral norm;
``wgan-gp`` the Wasserstein critic loss, whose Lipschitz constraint comes from the
gradient penalty rather than from the loss itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Loss = Literal["ns", "hinge", "wgan-gp"]
LOSSES: tuple[str, ...] = ("ns", "hinge", "wgan-gp")

Critic = Callable[[Tensor], Tensor]


def discriminator_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """The discriminator's loss given its logits on real and on generated data."""
    if kind == "ns":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown GAN loss '{kind}'; choose one of {', '.join(LOSSES)}")


def generator_loss(kind: str, fake: Tensor) -> Tensor:
    """The generator's loss given the discriminator's logits on its samples."""
    if kind == "ns":
        return F.softplus(-fake).mean()
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown GAN loss '{kind}'; choose one of {', '.join(LOSSES)}")


def _input_grad_sq_norm(critic: Critic, x: Tensor) -> tuple[Tensor, Tensor]:
    """Critic output at ``x`` and ``||d critic / d x||^2`` per example (graph kept)."""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return out, grad.flatten(1).pow(2).sum(dim=1)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: ``E[(||grad critic(x_hat)|| - 1)^2]`` on random mixes of real and fake.

    ``create_graph`` keeps the penalty differentiable, so its gradient reaches the
    critic's weights when the loss is backpropagated (also under manual optimization).
    """
    shape = (len(real),) + (1,) * (real.dim() - 1)
    mix = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = mix * real.detach() + (1 - mix) * fake.detach()
    _, sq = _input_grad_sq_norm(critic, x_hat)
    return (sq.add(1e-12).sqrt() - 1).pow(2).mean()


def r1_penalty(critic: Critic, real: Tensor) -> tuple[Tensor, Tensor]:
    """R1: ``E[||grad critic(x_real)||^2]``, and the critic's logits on ``real`` (reused)."""
    out, sq = _input_grad_sq_norm(critic, real)
    return sq.mean(), out
