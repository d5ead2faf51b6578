"""Dynamic evaluation: score held-out text while adapting the model to what it has scored.

Why: a compressor such as ``xz`` gains on a new text by copying what it has already
seen *of that text* (and of what came before it); a language model with fixed weights
cannot, beyond its context window. Dynamic evaluation (Krause et al., "Dynamic
Evaluation of Neural Sequence Models", 2018) gives it the same ability honestly: the
text is read in consecutive segments, every segment is **scored first** and only then
used for one gradient step, so each token's probability depends on the tokens before
it only, as in an adaptive compressor. The number is therefore a different evaluation
mode from the plain held-out bits per character (fixed weights) and is always reported
under its own name (``dynamic-eval bpc``), never mixed with it.

By default the segments are the same non-overlapping windows as the plain held-out
score (``block`` tokens each, every window read from its own start), so ``lr=0`` gives
exactly the plain score. With ``stride < block`` the windows overlap: each starts
``stride`` tokens after the last, is scored (and stepped on) only on its last ``stride``
targets, which are new, so every token is scored once with at least ``block - stride``
tokens of context before it. The caller's network is not changed: the adaptation runs on a
copy. ``decay`` pulls the adapted weights back toward the trained ones after every step
(Krause et al.'s global prior), so the model can forget a topic it has left.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom.errors import ConfigError

LN2 = math.log(2)
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class DynamicEvalResult:
    """Totals of one dynamic evaluation: nats over the scored tokens, and per character."""

    nats: float
    tokens: int
    chars: int
    #: nats of each window's scored targets, in reading order
    window_nats: tuple[float, ...] = ()

    @property
    def bpc(self) -> float:
        """Bits per character of the scored text (dynamic evaluation, not the plain score)."""
        return self.nats / self.chars / LN2

    @property
    def bits_per_token(self) -> float:
        return self.nats / self.tokens / LN2


def check_options(block: int, lr: float, decay: float, optimizer: str, stride: int | None = None) -> None:
    """One line saying what is wrong with a dynamic-evaluation setting, as a ConfigError."""
    if block < 1:
        raise ConfigError(f"dynamic evaluation: block={block} must be at least 1")
    if stride is not None and not 1 <= stride <= block:
        raise ConfigError(f"dynamic evaluation: stride={stride} must be in [1, block={block}]")
    if not lr >= 0:
        raise ConfigError(f"dynamic evaluation: lr={lr} must be >= 0 (0: the plain held-out score)")
    if not 0 <= decay < 1:
        raise ConfigError(f"dynamic evaluation: decay={decay} must be in [0, 1)")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"dynamic evaluation: optimizer='{optimizer}': choose one of {', '.join(OPTIMIZERS)}")


def dynamic_eval(
    net: nn.Module,
    ids: Tensor,
    *,
    block: int,
    lr: float,
    decay: float = 0.0,
    optimizer: str = "sgd",
    stride: int | None = None,
    count_chars: Callable[[Tensor], Tensor] | None = None,
    logits_of: Callable[[nn.Module, Tensor], Tensor] | None = None,
) -> DynamicEvalResult:
    """Score ``ids`` (a 1-D token tensor) segment by segment, adapting a copy of ``net``.

    Segment ``i`` is the window ``ids[i*stride : i*stride + block + 1]`` (``stride``
    defaults to ``block``): its new targets (all ``block`` in the first window, the last
    ``stride`` in later ones) are scored with the weights adapted on segments
    ``0 .. i-1``, then one ``optimizer`` step of learning rate ``lr`` is taken on their
    mean loss. ``count_chars``
    maps target ids to the characters they stand for (for BPE; default one per token);
    ``logits_of(net, x)`` gives logits ``(n, t, vocab)`` (default ``net.step(x)[0]``).
    Dropout stays off (the copy is in eval mode); gradients are only those of the copy.
    """
    stride = block if stride is None else stride
    check_options(block, lr, decay, optimizer, stride)
    if ids.dim() != 1 or len(ids) < block + 1:
        raise ConfigError(f"dynamic evaluation needs a 1-D text of more than block={block} tokens")
    logits_of = logits_of or (lambda m, x: m.step(x)[0])
    model = copy.deepcopy(net).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    trained = [p.detach().clone() for p in params]
    opt: Any = (torch.optim.SGD(params, lr=lr) if optimizer == "sgd"
                else torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999)))
    windows: list[float] = []
    chars, tokens = 0, 0
    for begin in range(0, len(ids) - block, stride):
        window = ids[begin : begin + block + 1][None]
        first = 0 if begin == 0 else block - stride  # targets before it were scored already
        target = window[:, 1 + first :]
        with torch.set_grad_enabled(lr > 0):
            logits = logits_of(model, window[:, :-1])[:, first:]
            loss = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), reduction="sum")
        windows.append(loss.item())  # scored before the step that learns from it
        tokens += target.numel()
        chars += int(count_chars(target).sum()) if count_chars is not None else target.numel()
        if lr > 0:
            opt.zero_grad(set_to_none=True)
            (loss / target.numel()).backward()
            opt.step()
            if decay:
                with torch.no_grad():
                    for p, p0 in zip(params, trained):
                        p.lerp_(p0, decay)
    return DynamicEvalResult(nats=sum(windows), tokens=tokens, chars=chars, window_nats=tuple(windows))
