"""Dequantisation and bits per dimension: a continuous density scored on discrete data.

Grey levels are discrete; a density on them can grow without bound by collapsing
onto the levels. Uniform dequantisation (Theis et al., 2016) adds noise that fills
each level's bin of width ``bin``; then, for the discrete probability ``P`` of a
level and the flow's density ``p``,

    log P(x) = log integral_bin p(x + u) du >= E_u[log p(x + u)] + D log(bin)    (Jensen),

so the dequantised negative log-density plus ``-D log(bin)`` is an upper bound on the
discrete negative log-likelihood, in nats; divided by ``D ln 2`` it is bits per
dimension, comparable with any other model's discrete likelihood on the same levels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def bin_width(levels: int, low: float = -1.0, high: float = 1.0) -> float:
    """Width of one level's bin when ``levels`` values span ``[low, high]`` evenly."""
    return (high - low) / (levels - 1)


def dequantize(x: Tensor, width: float, generator: torch.Generator | None = None) -> Tensor:
    """``x`` plus ``U(0, width)`` noise shifted by ``-width / 2``: each level's bin is centred
    on it. The shift is a translation (unit Jacobian), so the likelihood bound is that of
    ``U(0, width)`` noise, and samples stay centred on the levels."""
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + (u - 0.5) * width


def bits_per_dim(nll_nats: Tensor, dims: int, width: float | None = None) -> Tensor:
    """Negative log-likelihood per example (nats) as bits per dimension.

    With ``width`` (the bin of dequantised data), ``nll_nats`` is the dequantised
    continuous NLL, and the result is the bound on the discrete NLL above."""
    discrete = nll_nats - (dims * math.log(width) if width is not None else 0.0)
    return discrete / (dims * math.log(2.0))
