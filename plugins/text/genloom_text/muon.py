"""Muon: momentum orthogonalised by Newton-Schulz for hidden weight matrices, AdamW for the rest.

Muon (Keller Jordan, 2024; the optimizer of the nanoGPT speed-runs) replaces each 2-D
hidden weight's momentum update ``M`` by the nearest semi-orthogonal matrix ``U V^T``
(``M = U S V^T``), approximated by five steps of a quintic Newton-Schulz iteration, so
every direction of the update moves at the same rate instead of a few dominant ones.
Embedding tables, the output layer, gains and biases are not hidden matrices: they get
AdamW. One optimizer holds both, so genloom's single-optimizer loop, its schedule and
its checkpoints work unchanged. Select it with ``optim.name: muon``.

Which parameters are Muon's: every parameter with two or more dimensions (convolution
kernels are flattened to ``(out, rest)``) unless marked with :func:`adam_only` — a
model marks its embeddings and output layer so (the transformer plugin does).

Learning rates: ``lr`` (``optim.lr``) is AdamW's; Muon's parameters step by
``muon_lr``, scaled by ``sqrt(max(1, rows / cols))`` and by the same schedule factor
(warm-up, cosine) the run applies to ``lr``. Weight decay is decoupled, on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

#: the quintic's coefficients, chosen (by the speed-run's author) for the steepest
#: slope at zero: singular values land in about [0.7, 1.2] after five steps, not at 1
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
_ADAM_ONLY = "_genloom_adam_only"


def orthogonalize(g: Tensor, steps: int = 5, eps: float = 1e-7) -> Tensor:
    """An approximation of ``U V^T`` for ``g = U S V^T`` (2-D), by Newton-Schulz."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    tall = x.shape[0] > x.shape[1]
    if tall:  # iterate on the wide orientation: the Gram matrix is the small one
        x = x.T
    x = x / (x.norm() + eps)  # Frobenius norm >= spectral norm: singular values <= 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


def adam_only(params: nn.Module | Iterable[nn.Parameter]) -> None:
    """Mark parameters (or every parameter of a module) to be stepped by AdamW, not Muon."""
    for p in params.parameters() if isinstance(params, nn.Module) else params:
        setattr(p, _ADAM_ONLY, True)


def uses_muon(p: Tensor) -> bool:
    """Whether Muon steps ``p``: a matrix (or kernel) not marked :func:`adam_only`."""
    return p.ndim >= 2 and not getattr(p, _ADAM_ONLY, False)


class Muon(torch.optim.Optimizer):
    """Muon on hidden matrices, AdamW on everything else, in one ``torch.optim.Optimizer``."""

    def __init__(self, params: Any, lr: float = 1e-3, weight_decay: float = 0.0, *,
                 muon_lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, betas: Any = (0.9, 0.99), eps: float = 1e-8) -> None:
        betas = tuple(float(b) for b in betas)
        if lr < 0 or muon_lr < 0 or weight_decay < 0:
            raise ValueError("lr, muon_lr and weight_decay must be >= 0")
        if not 0 <= momentum < 1 or len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError("momentum and both betas must lie in [0, 1)")
        if ns_steps < 1:
            raise ValueError(f"ns_steps must be >= 1, got {ns_steps}")
        defaults = dict(lr=lr, weight_decay=weight_decay, muon_lr=muon_lr, momentum=momentum,
                        nesterov=nesterov, ns_steps=ns_steps, betas=betas, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # the run's schedule scales ``lr``; Muon's rate follows the same factor
            factor = group["lr"] / group["initial_lr"] if group.get("initial_lr") else 1.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                if uses_muon(p):
                    self._muon(p, group, group["muon_lr"] * factor)
                else:
                    self._adamw(p, group)
        return loss

    def _muon(self, p: Tensor, group: dict[str, Any], lr: float) -> None:
        state = self.state[p]
        if "momentum" not in state:
            state["momentum"] = torch.zeros_like(p)
        buf, beta = state["momentum"], group["momentum"]
        buf.lerp_(p.grad, 1 - beta)
        update = p.grad.lerp(buf, beta) if group["nesterov"] else buf
        matrix = update.reshape(len(update), -1)
        ortho = orthogonalize(matrix, group["ns_steps"]).view_as(p)
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(ortho, alpha=-lr * max(1.0, matrix.shape[0] / matrix.shape[1]) ** 0.5)

    def _adamw(self, p: Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        (b1, b2), t, lr = group["betas"], state["step"], group["lr"]
        state["exp_avg"].lerp_(p.grad, 1 - b1)
        state["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
        denom = (state["exp_avg_sq"] / (1 - b2**t)).sqrt_().add_(group["eps"])
        p.mul_(1 - lr * group["weight_decay"])
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - b1**t))
