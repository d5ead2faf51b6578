"""RLHF by policy gradient: RLOO (REINFORCE with a leave-one-out baseline) plus a KL
penalty to the frozen reference.

Each step samples ``per_prompt`` continuations of a few prompts from the policy,
scores them with a *scorer* (a reward model, or a programmatic judge), and subtracts
``kl_coef`` times each sample's log-ratio ``log pi(y|x) - log ref(y|x)`` (a one-sample
estimate of the KL). A sample's advantage is its shaped reward minus the mean of the
other samples of the same prompt (Ahmadian et al., 2024), and the loss is
``-advantage * log pi(y|x)``. Logs reward, KL (the mean log-ratio per sequence) and
the policy's entropy per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import Tensor

from genloom_align.policy import frozen_copy, load_policy, sample, token_logprobs, tokenizer


class Scorer(Protocol):
    def __call__(self, prompts: list[str], responses: list[str]) -> Tensor: ...


def judge_scorer(judge) -> Scorer:
    """Rewards from a programmatic judge's ``score(text)`` of each response."""
    return lambda prompts, responses: torch.tensor([float(judge.score(r)) for r in responses])


def reward_model_scorer(model) -> Scorer:
    return lambda prompts, responses: model.score(prompts, responses)


@dataclass
class RLConfig:
    steps: int = 200
    lr: float = 1e-4
    kl_coef: float = 0.05
    per_prompt: int = 4
    prompts_per_step: int = 4
    max_new_tokens: int = 32
    temperature: float = 1.0
    seed: int = 0
    log_every: int = 20


def rloo_step(policy, reference, scorer: Scorer, prompts: list[str], cfg: RLConfig,
              gen: torch.Generator) -> dict[str, Tensor]:
    """Sample, score, and return the RLOO loss with its diagnostics for these prompts."""
    tok = tokenizer(policy)
    losses, rewards, kls, entropies = [], [], [], []
    for prompt in prompts:
        ids = tok.encode(prompt)
        batch = sample(policy, [ids] * cfg.per_prompt, cfg.max_new_tokens, gen, cfg.temperature)
        texts = [tok.decode(row[len(ids):].tolist()) for row in batch.ids]
        reward = scorer([prompt] * len(texts), texts).float()
        logp, full = token_logprobs(policy, batch.ids)
        with torch.no_grad():
            ref_logp, _ = token_logprobs(reference, batch.ids)
        seq_logp = (logp * batch.mask).sum(-1)
        kl = ((logp.detach() - ref_logp) * batch.mask).sum(-1)
        shaped = reward - cfg.kl_coef * kl
        k = len(texts)
        baseline = (shaped.sum() - shaped) / max(1, k - 1)
        losses.append(-((shaped - baseline) * seq_logp).mean())
        entropy = -(full.exp() * full).sum(-1)
        entropies.append((entropy.detach() * batch.mask).sum() / batch.mask.sum())
        rewards.append(reward.mean())
        kls.append(kl.mean())
    return {"loss": torch.stack(losses).mean(), "reward": torch.stack(rewards).mean(),
            "kl": torch.stack(kls).mean(), "entropy": torch.stack(entropies).mean()}


def train_rlhf(policy_path: str, scorer: Scorer, prompts: list[str], cfg: RLConfig,
               echo: Callable[[str], None] | None = print):
    """Optimise a copy of the checkpoint's model; returns ``(policy, history)``, the
    history one dict of floats per logged step."""
    torch.manual_seed(cfg.seed)
    policy = load_policy(policy_path)
    reference = frozen_copy(policy_path)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    for step in range(1, cfg.steps + 1):
        chosen = [prompts[(step * cfg.prompts_per_step + i) % len(prompts)]
                  for i in range(cfg.prompts_per_step)]
        stats = rloo_step(policy, reference, scorer, chosen, cfg, gen)
        opt.zero_grad(set_to_none=True)
        stats["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % cfg.log_every == 0 or step == cfg.steps or step == 1:
            row = {"step": step, **{k: round(v.item(), 4) for k, v in stats.items() if k != "loss"}}
            history.append(row)
            if echo:
                echo(f"step {step:>5}  reward {row['reward']:.4f}  kl {row['kl']:.4f}  entropy {row['entropy']:.4f}")
    return policy, history
