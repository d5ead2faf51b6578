"""Logits processors: each maps next-token logits ``(n, vocab)`` to new logits.

They are plain functions so that the loop applies only the ones whose option is not
neutral (``temperature=1``, ``top_k=0``, ``top_p=1``, ``repetition_penalty=1`` cost
nothing). Removed tokens get ``-inf``, so a softmax gives them probability zero.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genloom.errors import ConfigError


def check_options(temperature: float, top_k: int, top_p: float, repetition_penalty: float) -> None:
    """Reject option values that have no meaning, with a one-line error."""
    if temperature < 0:
        raise ConfigError(f"temperature={temperature} must be >= 0 (0 means greedy)")
    if top_k < 0:
        raise ConfigError(f"top_k={top_k} must be >= 0 (0 turns it off)")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p={top_p} must be in (0, 1] (1 turns it off)")
    if repetition_penalty <= 0:
        raise ConfigError(f"repetition_penalty={repetition_penalty} must be > 0 (1 turns it off)")


def temperature(logits: Tensor, value: float) -> Tensor:
    """Divide by ``value``: below 1 sharpens the distribution, above 1 flattens it."""
    return logits / value


def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row (ties at the k-th value are kept)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose mass reaches ``p``.

    The most likely token is always kept, so ``p`` close to 0 becomes greedy.
    """
    if p >= 1:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
    drop_sorted = mass_before >= p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def repetition_penalty(logits: Tensor, seen: Tensor, penalty: float) -> Tensor:
    """Make tokens already in the sequence less likely (CTRL, Keskar et al. 2019).

    ``seen`` is a boolean ``(n, vocab)`` mask of tokens present in each row so far. A
    positive logit is divided by ``penalty``, a negative one multiplied, so a penalty
    above 1 always lowers the token's probability.
    """
    if penalty == 1:
        return logits
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def process(
    logits: Tensor,
    *,
    seen: Tensor | None,
    temperature_: float = 1.0,
    top_k_: int = 0,
    top_p_: float = 1.0,
    repetition_penalty_: float = 1.0,
) -> Tensor:
    """Apply repetition penalty, temperature, top-k and top-p, in that order."""
    if repetition_penalty_ != 1 and seen is not None:
        logits = repetition_penalty(logits, seen, repetition_penalty_)
    if temperature_ not in (0, 1):
        logits = temperature(logits, temperature_)
    logits = top_k(logits, top_k_)
    return top_p(logits, top_p_)
