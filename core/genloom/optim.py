"""Optimizers and learning-rate schedules from the ``optim`` config section."""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import OmegaConf

from genloom.config import SCHEDULES, OptimConfig
from genloom.errors import ConfigError, did_you_mean

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


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


def build_optimizers(cfg: Any, groups: list, total_steps: int) -> Any:
    """One optimizer (and LambdaLR schedule) per group, in Lightning's return format."""
    cfg = cfg if cfg is not None else OmegaConf.structured(OptimConfig)
    if "." in cfg.name:
        from genloom.objects import optimizer_class

        optimizer_cls = optimizer_class(cfg.name)
    elif cfg.name not in OPTIMIZERS:
        raise ConfigError(
            f"optim.name: unknown optimizer '{cfg.name}'{did_you_mean(cfg.name, OPTIMIZERS)}; "
            f"valid choices: {', '.join(OPTIMIZERS)} or a class path (torch.optim.NAdam)"
        )
    else:
        optimizer_cls = OPTIMIZERS[cfg.name]
    if cfg.scheduler not in SCHEDULES:
        raise ConfigError(
            f"optim.scheduler: unknown schedule '{cfg.scheduler}'"
            f"{did_you_mean(cfg.scheduler, SCHEDULES)}; valid choices: {', '.join(SCHEDULES)}"
        )
    unknown = set(cfg.groups) - {g.name for g in groups}
    if unknown:
        raise ConfigError(
            f"optim.groups: unknown player '{sorted(unknown)[0]}'; this model's players are "
            f"{', '.join(g.name for g in groups)}"
        )
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
            optimizer = optimizer_cls(group.parameters(), **kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"optim: cannot build {optimizer_cls.__name__}: {exc}") from None
        entry: dict[str, Any] = {"optimizer": optimizer}
        if cfg.scheduler != "constant" or cfg.warmup_steps > 0:
            steps = max(1, total_steps // max(1, group.every_n_steps) // max(1, cfg.accumulate))
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s, c=cfg, t=steps: lr_factor(c, s, t)
            )
            entry["lr_scheduler"] = {"scheduler": schedule, "interval": "step"}
        results.append(entry)
    return results[0] if len(results) == 1 else results
