"""Optimizers and learning-rate schedules from the ``optim`` config section.

Weight decay goes to weight matrices only by default (``optim.decay: weights``, minGPT's
grouping): decaying biases, norm gains and embeddings pulls them toward nothing instead
of regularising a mapping. ``optim.decay: all`` decays every parameter.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import OmegaConf

from genloom.config import OPTIMIZERS, SCHEDULES, OptimConfig
from genloom.errors import ComponentError, ConfigError, did_you_mean


def stepping(cfg: Any) -> tuple[int, float]:
    """``(accumulate, gradient_clip)``: the one source both training paths read."""
    if cfg is None:
        return 1, 0.0
    accumulate = int(getattr(cfg, "accumulate", 1) or 1)
    clip = float(getattr(cfg, "gradient_clip", 0.0) or 0.0)
    return max(1, accumulate), max(0.0, clip)


def optimizer_steps(groups: list, batches: int, accumulate: int) -> int:
    """Optimizer steps all players make in ``batches`` batches (each steps every
    ``accumulate``-th time it is due): what Lightning's ``max_steps`` counts, while a
    genloom config's ``trainer.max_steps`` counts batches."""
    return sum(-(-batches // max(1, g.every_n_steps)) // max(1, accumulate) for g in groups)


class Schedule:
    """One player's ``LambdaLR`` factor as an object, whose ``__dict__`` LambdaLR saves: the
    horizon comes back on ``--resume`` instead of being stretched by a new ``max_epochs``."""

    def __init__(self, cfg: Any, total: int) -> None:
        self.scheduler = str(cfg.scheduler)
        self.warmup_steps = int(cfg.warmup_steps)
        self.min_lr_ratio = float(cfg.min_lr_ratio)
        self.gamma = float(cfg.gamma)
        self.step_size = int(cfg.step_size)
        self.total = int(total)

    def __call__(self, step: int) -> float:
        return lr_factor(self, step, self.total)


def lr_factor(cfg: Any, step: int, total: int) -> float:
    """The multiplier on the base learning rate at ``step`` of ``total``."""
    warm = cfg.warmup_steps
    ramp = min(1.0, (step + 1) / warm) if warm > 0 else 1.0
    progress = min(1.0, max(0, step - warm) / max(1, total - warm))
    floor = cfg.min_lr_ratio
    if cfg.scheduler == "cosine":
        shape = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    elif cfg.scheduler == "linear":
        shape = floor + (1 - floor) * (1 - progress)
    elif cfg.scheduler == "step":
        shape = cfg.gamma ** (max(0, step - warm) // max(1, cfg.step_size))
    elif cfg.scheduler == "exponential":
        shape = max(floor, cfg.gamma ** (max(0, step - warm) / max(1, cfg.step_size)))
    else:
        shape = 1.0
    return ramp * shape


DECAY_CHOICES = ("weights", "all")


def decay_split(params: Any) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """``(decayed, not decayed)`` trainable parameters: decayed are those of two or more
    dimensions but embedding tables (and weights tied to one); a plain list is split by
    dimension only. Each parameter appears once.
    """
    if isinstance(params, torch.nn.Module):
        embeddings = {
            id(m.weight) for m in params.modules() if isinstance(m, torch.nn.Embedding)
        }
        candidates = list(params.parameters())
    else:
        embeddings, candidates = set(), list(params)
    decay, keep, seen = [], [], set()
    for p in candidates:
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.ndim >= 2 and id(p) not in embeddings else keep).append(p)
    return decay, keep


def param_groups(group: Any, weight_decay: float, decay: str) -> list[dict[str, Any]] | list:
    """The optimizer's parameter groups for one player: decay split per ``decay``."""
    if decay == "all" or weight_decay == 0.0:
        return group.parameters()
    source = group.params
    decayed, kept = decay_split(source)
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]


def build_optimizers(cfg: Any, groups: list, total_steps: int) -> Any:
    """One optimizer (and LambdaLR schedule) per group, in Lightning's return format; each
    schedule spans the optimizer steps its player makes in ``total_steps`` batches."""
    cfg = cfg if cfg is not None else OmegaConf.structured(OptimConfig)
    if "." in cfg.name:
        from genloom.objects import optimizer_class

        optimizer_cls = optimizer_class(cfg.name)
    elif cfg.name not in OPTIMIZERS:  # a registered one (config validation resolved it)
        from genloom.plugins import get_registry

        try:
            optimizer_cls = get_registry().load("optimizer", cfg.name)
        except ComponentError as exc:
            raise ConfigError(f"optim.name: {exc}; built in: {', '.join(OPTIMIZERS)} "
                              "or a class path (torch.optim.NAdam)") from None
    else:
        optimizer_cls = getattr(torch.optim, OPTIMIZERS[cfg.name])
    if cfg.scheduler not in SCHEDULES:
        raise ConfigError(f"optim.scheduler: unknown schedule '{cfg.scheduler}'"
                          f"{did_you_mean(cfg.scheduler, SCHEDULES)}; valid choices: {', '.join(SCHEDULES)}")
    decay = getattr(cfg, "decay", "weights")
    if decay not in DECAY_CHOICES:
        raise ConfigError(f"optim.decay: unknown choice '{decay}'{did_you_mean(decay, DECAY_CHOICES)}; "
                          f"valid choices: {', '.join(DECAY_CHOICES)}")
    unknown = set(cfg.groups) - {g.name for g in groups}
    if unknown:
        raise ConfigError(f"optim.groups: unknown player '{sorted(unknown)[0]}'; this model's players are "
                          f"{', '.join(g.name for g in groups)}")
    results = []
    for group in groups:
        override = cfg.groups.get(group.name, {}) or {}
        lr = float(override.get("lr", group.lr if group.lr is not None else cfg.lr))
        wd = float(override.get("weight_decay", cfg.weight_decay))
        kwargs: dict[str, Any] = {"lr": lr, "weight_decay": wd}
        if cfg.name in ("adam", "adamw"):
            kwargs["betas"] = tuple(override.get("betas", cfg.betas))
        elif cfg.name in ("sgd", "rmsprop"):
            kwargs["momentum"] = float(override.get("momentum", cfg.momentum))
        kwargs.update(dict(getattr(cfg, "init_args", None) or {}))
        try:
            optimizer = optimizer_cls(param_groups(group, wd, decay), **kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"optim: cannot build {optimizer_cls.__name__}: {exc}") from None
        entry: dict[str, Any] = {"optimizer": optimizer}
        if cfg.scheduler != "constant" or cfg.warmup_steps > 0:
            accumulate, _ = stepping(cfg)
            steps = max(1, -(-total_steps // max(1, group.every_n_steps)) // accumulate)
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, Schedule(cfg, steps))
            entry["lr_scheduler"] = {"scheduler": schedule, "interval": "step"}
        results.append(entry)
    return results[0] if len(results) == 1 else results
