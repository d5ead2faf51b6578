"""Fine-tuning a language model checkpoint on a dataset: all weights, or LoRA adapters.

One plain loop for both, so that LoRA and full fine-tuning are compared at equal
steps, data and optimizer. The data section is the base run's (``data.*=`` overrides
change it; ``data.name=shakespeare`` starts a fresh section for that dataset with the
base's ``block_size`` and ``batch_size``), and the text is always encoded with the
base's tokenizer, because ids mean nothing with another vocabulary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from omegaconf import OmegaConf

from genloom import ConfigError, build_component, load_config
from genloom_compress.lora import add_lora
from genloom_align.policy import load_policy

LN2 = math.log(2)


@dataclass
class FinetuneConfig:
    steps: int = 200
    lr: float = 1e-3
    weight_decay: float = 0.0
    #: LoRA rank; 0 fine-tunes every weight
    rank: int = 0
    alpha: float = 0.0
    targets: tuple[str, ...] = ()
    seed: int = 0
    log_every: int = 50


def data_splits(model, overrides: list[str]) -> tuple[dict, Any]:
    """The train/val/test windows of the (possibly changed) data, in the model's ids."""
    base = OmegaConf.to_container(model.run_cfg, resolve=True)
    data_over = [o for o in overrides if o.startswith("data.")]
    if len(data_over) != len(overrides):
        bad = next(o for o in overrides if not o.startswith("data."))
        raise ConfigError(f"'{bad}': only data.* overrides apply to fine-tuning data")
    new_name = next((o.split("=", 1)[1] for o in data_over if o.startswith("data.name=")), None)
    if new_name is not None and new_name != base["data"]["name"]:
        old = base["data"]
        base["data"] = {"name": new_name, "block_size": old["block_size"], "batch_size": old["batch_size"]}
    cfg = load_config(base=base, overrides=data_over, check_trainer=False)
    if cfg.data.block_size != model.block_size:
        raise ConfigError(f"data.block_size={cfg.data.block_size}: this model was trained on windows "
                          f"of {model.block_size} tokens; keep that size")
    dataset = build_component("dataset", cfg.data)
    if not hasattr(dataset, "use_tokenizer"):
        raise ConfigError(f"data.name={cfg.data.name} is not text data a language model can read")
    dataset.use_tokenizer(model.info.tokenizer)
    return dataset.splits(cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_seed), cfg.data


@torch.no_grad()
def held_out_bpc(model, windows, max_windows: int = 0, batch_size: int = 64) -> float:
    """Bits per character of the model on fixed windows (the first ``max_windows``)."""
    n = len(windows) if max_windows <= 0 else min(len(windows), max_windows)
    nats, chars = 0.0, 0.0
    was = model.training
    model.eval()
    for lo in range(0, n, batch_size):
        x = windows.__getitems__(list(range(lo, min(n, lo + batch_size))))["x"]
        nats += model.token_nats(x).sum().item()
        counted = model.count_chars(x[:, 1:])
        chars += counted.item() if counted is not None else x[:, 1:].numel()
    model.train(was)
    return nats / max(chars, 1) / LN2


def finetune(base: str, overrides: list[str], cfg: FinetuneConfig, *, eval_windows: int = 0,
             echo: Callable[[str], None] | None = print):
    """Fine-tune the checkpoint at ``base``; returns ``(model, summary)``.

    With ``cfg.rank > 0`` only LoRA adapters train (every other weight is frozen)."""
    torch.manual_seed(cfg.seed)
    model = load_policy(base, "base")
    splits, data_cfg = data_splits(model, overrides)
    summary: dict = {"bpc_before": round(held_out_bpc(model, splits["val"], eval_windows), 4)}
    if cfg.rank > 0:
        layers = add_lora(model.net, cfg.rank, cfg.alpha or None, list(cfg.targets) or None)
        summary["adapted_layers"] = len(layers)
    params = [p for p in model.parameters() if p.requires_grad]
    summary["trainable_parameters"] = sum(p.numel() for p in params)
    summary["parameters"] = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    train = splits["train"]
    gen = torch.Generator().manual_seed(cfg.seed)
    batch_size = int(data_cfg.batch_size)
    start = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(len(train), (batch_size,), generator=gen).tolist()
        loss = model.losses(train.__getitems__(idx))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if echo and (step % cfg.log_every == 0 or step == cfg.steps):
            echo(f"step {step:>5}  loss {loss.item():.4f}")
    summary["seconds_per_step"] = round((time.perf_counter() - start) / max(1, cfg.steps), 4)
    model.eval()
    summary["bpc_after"] = round(held_out_bpc(model, splits["val"], eval_windows), 4)
    return model, summary
