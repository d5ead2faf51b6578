"""A reward model trained from preference pairs (Bradley-Terry) on a frozen LM's features.

Features: the input of the language model's output layer (the last ``nn.Linear`` of
its network with one output per vocabulary entry, e.g. the transformer's ``head``
after the final LayerNorm, the RNN's ``head`` after its last layer), mean-pooled over
the response's positions. That layer exists in every genloom text network built the
usual way, so no plugin has to expose its hidden states; a network without one is a
one-line error. On top: a linear head, trained with the Bradley-Terry loss
``-log sigmoid(r(chosen) - r(rejected))``. The LM stays frozen (a linear probe), so
features are computed once per pair and training takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom import CheckpointError, ConfigError
from genloom_align.policy import encode, frozen_copy
from genloom_align.preferences import Pair

FORMAT = "genloom-reward"


def output_layer(model) -> str:
    """Name (inside ``model.net``) of the layer that maps features to vocabulary logits."""
    vocab = model.info.vocab_size
    names = [n for n, m in model.net.named_modules() if isinstance(m, nn.Linear) and m.out_features == vocab]
    if not names:
        raise ConfigError("this language model's network has no nn.Linear output layer with one "
                          "output per token, so it has no features to train a reward model on")
    return names[-1]


class RewardModel(nn.Module):
    """``r(prompt, response)``: a linear head on a frozen LM's pooled features."""

    def __init__(self, lm, base: str, layer: str | None = None) -> None:
        super().__init__()
        self.lm, self.base = lm, str(base)
        self.layer = layer or output_layer(lm)
        width = self.lm.net.get_submodule(self.layer).in_features
        self.head = nn.Linear(width, 1)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))

    @torch.no_grad()
    def features(self, prompts: list[str], responses: list[str], batch_size: int = 64) -> Tensor:
        """Pooled features ``(n, width)`` (no gradient: the LM is frozen)."""
        out = []
        for lo in range(0, len(prompts), batch_size):
            batch = encode(self.lm, prompts[lo : lo + batch_size], responses[lo : lo + batch_size],
                           limit=self.lm.block_size)
            seen: list[Tensor] = []
            hook = self.lm.net.get_submodule(self.layer).register_forward_pre_hook(
                lambda _m, args: seen.append(args[0]))
            try:
                self.lm.net.step(batch.ids)
            finally:
                hook.remove()
            hidden = seen[-1].float()  # (n, t, width): position j has read ids[: j + 1]
            # response tokens sit at ids positions where the shifted target mask is 1
            resp = torch.cat([torch.zeros(len(batch.ids), 1), batch.mask], 1)[:, : hidden.shape[1]]
            out.append((hidden * resp[..., None]).sum(1) / resp.sum(1, keepdim=True).clamp(min=1))
        return torch.cat(out)

    def reward_of_features(self, feats: Tensor) -> Tensor:
        return self.head((feats - self.mean) / self.std).squeeze(-1)

    def score(self, prompts: list[str], responses: list[str]) -> Tensor:
        """One reward per (prompt, response)."""
        with torch.no_grad():
            return self.reward_of_features(self.features(prompts, responses))

    def save(self, out_dir: str | Path) -> Path:
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {"head.weight": self.head.weight.detach().contiguous(),
                   "head.bias": self.head.bias.detach().contiguous(),
                   "mean": self.mean.contiguous(), "std": self.std.contiguous()}
        save_file(tensors, str(out / "reward.safetensors"),
                  metadata={"format": FORMAT, "base": self.base, "layer": self.layer})
        return out


def load_reward_model(path: str | Path) -> RewardModel:
    """A reward model saved by ``genloom align reward`` (its base LM is loaded too)."""
    from safetensors import SafetensorError, safe_open

    file = Path(path) / "reward.safetensors" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise CheckpointError(f"reward model '{path}' does not exist (no reward.safetensors); "
                              "train one with 'genloom align reward'")
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"reward model '{file}' cannot be read: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"'{file}' is not a genloom reward model")
    model = RewardModel(frozen_copy(meta["base"]), meta["base"], meta["layer"])
    model.load_state_dict(tensors, strict=False)
    return model.eval()


def bt_accuracy(model: RewardModel, chosen: Tensor, rejected: Tensor) -> float:
    """Share of pairs whose chosen response gets the higher reward."""
    with torch.no_grad():
        return (model.reward_of_features(chosen) > model.reward_of_features(rejected)).float().mean().item()


def train_reward(base: str, train: list[Pair], held_out: list[Pair], *, steps: int = 300,
                 lr: float = 1e-2, weight_decay: float = 1e-3, seed: int = 0,
                 echo: Callable[[str], None] | None = print) -> tuple[RewardModel, dict]:
    """Fit the head with the Bradley-Terry loss; report pairwise accuracy."""
    torch.manual_seed(seed)
    model = RewardModel(frozen_copy(base), str(Path(base).resolve()))
    feats = {}
    for name, pairs in (("train", train), ("held_out", held_out)):
        if pairs:
            prompts = [p.prompt for p in pairs]
            feats[name] = (model.features(prompts, [p.chosen for p in pairs]),
                           model.features(prompts, [p.rejected for p in pairs]))
    both = torch.cat(feats["train"])
    model.mean.copy_(both.mean(0))
    model.std.copy_(both.std(0).clamp(min=1e-6) if len(both) > 1 else torch.ones_like(model.std))
    opt = torch.optim.AdamW(model.head.parameters(), lr=lr, weight_decay=weight_decay)
    chosen, rejected = feats["train"]
    for step in range(1, steps + 1):
        margin = model.reward_of_features(chosen) - model.reward_of_features(rejected)
        loss = -F.logsigmoid(margin).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if echo and (step % max(1, steps // 5) == 0 or step == steps):
            echo(f"step {step:>5}  loss {loss.item():.4f}  train accuracy {bt_accuracy(model, chosen, rejected):.3f}")
    summary = {"train_accuracy": round(bt_accuracy(model, chosen, rejected), 4)}
    if "held_out" in feats:
        summary["held_out_accuracy"] = round(bt_accuracy(model, *feats["held_out"]), 4)
        summary["held_out_pairs"] = len(held_out)
    return model.eval(), summary
