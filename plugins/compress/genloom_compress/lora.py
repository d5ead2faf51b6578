"""LoRA: low-rank adapters on the ``nn.Linear`` layers of any network.

Fine-tuning every weight of a model costs a full copy of it per task. LoRA (Hu et al.,
2021) freezes the weights and learns, for a linear layer ``W`` (``out x in``), a
low-rank update ``(alpha / rank) * B @ A`` with ``A`` (``rank x in``, small random) and
``B`` (``out x rank``, zero, so training starts from the base model exactly). Only
``A`` and ``B`` train; they are saved on their own as a small safetensors file, loaded
on top of the base, or merged into ``W`` for export (then the model is the base
architecture again, with no adapter cost at inference).

It works on any network made of ``nn.Linear`` layers, whatever plugin built it: an
adapted layer is a :class:`LoRALinear`, a subclass of ``nn.Linear`` that keeps the
original ``weight`` and ``bias`` parameters under their original names, so the base
state dict still loads into an adapted model and the adapter keys (``*.lora_a``,
``*.lora_b``) are the only new ones. Linear layers whose weight is shared with another
module (an output layer tied to the token embedding) are left alone by default:
adapting one would change the other.

It lives in the genloom-compress library (it was in the core until genloom 0.1):
any plugin's network may want it, and a model plugin may depend on a library but not
on another model plugin. ``peft`` is not used; see docs/architecture.md.
"""

from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import CheckpointError, ConfigError

ADAPTER_FORMAT = "genloom-lora"


class LoRALinear(nn.Linear):
    """An ``nn.Linear`` plus a trainable low-rank update; the base weight is frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias  # the same Parameters: same keys
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_a = nn.Parameter(torch.empty(rank, self.in_features, **factory))
        self.lora_b = nn.Parameter(torch.zeros(self.out_features, rank, **factory))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as nn.Linear initialises

    def forward(self, x: Tensor) -> Tensor:
        out = nn.functional.linear(x, self.weight, self.bias)
        return out + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scaling

    def delta(self) -> Tensor:
        """The update this adapter adds to ``weight``."""
        return (self.lora_b @ self.lora_a) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` whose weight includes the update."""
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                        device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.weight + self.delta())
            if self.bias is not None:
                out.bias.copy_(self.bias)
        return out


def _shared_weights(module: nn.Module) -> set[int]:
    """ids of parameters that more than one sub-module holds (tied weights)."""
    owners: dict[int, int] = {}
    for sub in module.modules():
        for p in sub.parameters(recurse=False):
            owners[id(p)] = owners.get(id(p), 0) + 1
    return {i for i, n in owners.items() if n > 1}


def linear_names(module: nn.Module, targets: list[str] | None = None) -> list[str]:
    """Qualified names of the ``nn.Linear`` layers LoRA would adapt.

    ``targets``: shell-style patterns matched against the names (``blocks.*.attn.*``);
    None: every linear layer whose weight is not tied to another module."""
    shared = _shared_weights(module)
    names = []
    for name, sub in module.named_modules():
        if not isinstance(sub, nn.Linear) or isinstance(sub, LoRALinear):
            continue
        if targets is None:
            if id(sub.weight) not in shared:
                names.append(name)
        elif any(fnmatch.fnmatchcase(name, t) for t in targets):
            names.append(name)
    return names


def _replace(module: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child, new)


def add_lora(module: nn.Module, rank: int = 8, alpha: float | None = None,
             targets: list[str] | None = None) -> list[str]:
    """Adapt ``module``'s linear layers in place; freeze every other parameter.

    Returns the adapted layers' names. ``alpha`` defaults to ``rank`` (a scale of 1).
    A layer with an adapter gets ``rank * (in_features + out_features)`` new
    parameters; nothing else in the module changes or trains."""
    if rank <= 0:
        raise ConfigError(f"LoRA rank must be a positive integer, not {rank}")
    names = linear_names(module, targets)
    if not names:
        raise ConfigError(
            f"no nn.Linear layer matches the LoRA targets {targets}; "
            "give patterns of linear layer names (e.g. 'blocks.*')"
        )
    for p in module.parameters():
        p.requires_grad_(False)
    for name in names:
        _replace(module, name, LoRALinear(module.get_submodule(name), rank,
                                          float(alpha if alpha is not None else rank)))
    return names


def lora_layers(module: nn.Module) -> dict[str, LoRALinear]:
    return {n: m for n, m in module.named_modules() if isinstance(m, LoRALinear)}


def adapter_state_dict(module: nn.Module) -> dict[str, Tensor]:
    """The adapters' tensors only (``<layer>.lora_a``, ``<layer>.lora_b``)."""
    return {
        f"{name}.{part}": getattr(layer, part).detach().clone().contiguous()
        for name, layer in lora_layers(module).items() for part in ("lora_a", "lora_b")
    }


def save_adapters(module: nn.Module, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the adapters as one safetensors file (rank, alpha, layer names in its
    metadata, plus ``extra``: e.g. the base checkpoint it was trained on), replacing ``path``
    in one step (genloom.atomic: fsync, then rename)."""
    from safetensors.torch import save

    from genloom.atomic import write_atomic

    layers = lora_layers(module)
    if not layers:
        raise ConfigError("this model has no LoRA adapters to save")
    first = next(iter(layers.values()))
    meta = {"format": ADAPTER_FORMAT, "rank": str(first.rank), "alpha": str(first.alpha),
            "layers": json.dumps(list(layers)), **{k: str(v) for k, v in (extra or {}).items()}}
    return write_atomic(path, save(adapter_state_dict(module), metadata=meta))


def read_adapters(path: str | Path) -> tuple[dict[str, str], dict[str, Tensor]]:
    """``(metadata, tensors)`` of an adapter file, or a one-line CheckpointError."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"adapter file '{p}' does not exist")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"adapter file '{p}' cannot be read: {exc}") from None
    if meta.get("format") != ADAPTER_FORMAT:
        raise CheckpointError(f"'{p}' is not a genloom LoRA adapter file (written by save_adapters)")
    return meta, tensors


def load_adapters(module: nn.Module, path: str | Path) -> list[str]:
    """Add the adapters saved in ``path`` to ``module`` (the base they were trained on)."""
    meta, tensors = read_adapters(path)
    names = json.loads(meta["layers"])
    missing = [n for n in names if not isinstance(_get(module, n), nn.Linear)]
    if missing:
        raise CheckpointError(
            f"adapter file '{path}' adapts '{missing[0]}', which this model has no linear "
            "layer for; load it on the base model it was trained on"
        )
    add_lora(module, int(meta["rank"]), float(meta["alpha"]), targets=names)
    try:
        unexpected = module.load_state_dict(tensors, strict=False).unexpected_keys
    except RuntimeError as exc:
        unexpected = [str(exc).strip().splitlines()[0]]
    if unexpected:
        raise CheckpointError(
            f"adapter file '{path}' does not fit this model ({unexpected[0]}); "
            "load it on the base it was trained on"
        )
    return names


def _get(module: nn.Module, name: str) -> nn.Module | None:
    try:
        return module.get_submodule(name)
    except AttributeError:
        return None


def merge_lora(module: nn.Module) -> int:
    """Fold every adapter into its layer's weight (a plain ``nn.Linear`` again).

    Afterwards the state dict has the base architecture's keys, so the model exports
    and loads like one that was never adapted. Returns how many layers were merged."""
    layers = lora_layers(module)
    for name, layer in layers.items():
        _replace(module, name, layer.merged())
    for p in module.parameters():
        p.requires_grad_(True)
    return len(layers)
