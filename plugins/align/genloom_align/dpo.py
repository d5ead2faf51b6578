"""Direct preference optimisation (Rafailov et al., 2023) for any genloom language model.

The policy and a frozen reference are loaded from the same checkpoint. For a pair,
the implicit reward of a response is ``beta * (log pi(y|x) - log ref(y|x))``; the
loss is ``-log sigmoid(reward(chosen) - reward(rejected))``, so the policy moves
probability toward chosen responses and away from rejected ones, and ``beta`` sets
how far it may drift from the reference (large ``beta``: it stays put).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genloom_align.policy import Encoded, encode, frozen_copy, kl_per_token, load_policy, token_logprobs
from genloom_align.preferences import Pair


def dpo_loss(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor,
             ref_rejected: Tensor, beta: float) -> dict[str, Tensor]:
    """DPO loss and its diagnostics from per-row sequence log-probabilities."""
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    margin = chosen - rejected
    return {
        "loss": -F.logsigmoid(margin).mean(),
        "margin": margin.mean().detach(),
        "accuracy": (margin > 0).float().mean(),
        "chosen_reward": chosen.mean().detach(),
        "rejected_reward": rejected.mean().detach(),
    }


@dataclass
class DPOConfig:
    beta: float = 0.1
    lr: float = 1e-4
    steps: int = 200
    batch_size: int = 8
    held_out: float = 0.1
    seed: int = 0
    log_every: int = 20


def _pair_batch(model, pairs: list[Pair]) -> tuple[Encoded, Encoded]:
    prompts = [p.prompt for p in pairs]
    return (encode(model, prompts, [p.chosen for p in pairs]),
            encode(model, prompts, [p.rejected for p in pairs]))


def dpo_stats(policy, reference, pairs: list[Pair], beta: float) -> dict[str, Tensor]:
    """Loss, margin, implicit-reward accuracy and per-token KL to the reference on ``pairs``."""
    chosen, rejected = _pair_batch(policy, pairs)
    pol_c, pol_c_full = token_logprobs(policy, chosen.ids)
    pol_r, _ = token_logprobs(policy, rejected.ids)
    with torch.no_grad():
        ref_c, ref_c_full = token_logprobs(reference, chosen.ids)
        ref_r, _ = token_logprobs(reference, rejected.ids)
    stats = dpo_loss((pol_c * chosen.mask).sum(-1), (pol_r * rejected.mask).sum(-1),
                     (ref_c * chosen.mask).sum(-1), (ref_r * rejected.mask).sum(-1), beta)
    stats["kl"] = kl_per_token(pol_c_full.detach(), ref_c_full, chosen.mask)
    return stats


def train_dpo(policy_path: str, train: list[Pair], held_out: list[Pair], cfg: DPOConfig,
              echo: Callable[[str], None] | None = print):
    """Train a copy of the checkpoint's model with DPO; returns ``(policy, summary)``."""
    torch.manual_seed(cfg.seed)
    policy = load_policy(policy_path)  # eval mode: no dropout noise in the log-ratios
    reference = frozen_copy(policy_path)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed)
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(len(train), (min(cfg.batch_size, len(train)),), generator=gen).tolist()
        stats = dpo_stats(policy, reference, [train[i] for i in idx], cfg.beta)
        opt.zero_grad(set_to_none=True)
        stats["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if echo and (step % cfg.log_every == 0 or step == cfg.steps):
            echo(f"step {step:>5}  loss {stats['loss'].item():.4f}  margin {stats['margin'].item():+.3f}"
                 f"  accuracy {stats['accuracy'].item():.2f}  kl {stats['kl'].item():.4f}")
    summary = {}
    if held_out:
        with torch.no_grad():
            final = dpo_stats(policy, reference, held_out, cfg.beta)
        summary = {f"held_out_{k}": round(v.item(), 4) for k, v in final.items()}
    return policy, summary
