"""Magnitude pruning of a model's linear layers, written as an ordinary export.

``genloom prune CKPT OUT --method magnitude|2:4|rows --sparsity S`` loads a checkpoint,
zeroes weights of every untied ``nn.Linear`` (the layers int8 quantises), and writes
``OUT`` with :func:`genloom.checkpoints.save_model`: a float export that loads and
samples like any other (``genloom sample OUT``), and that ``genloom export OUT OUT8
--quantize int8`` can quantise in turn. ``genloom.json``'s ``note`` records the method.

* ``magnitude``: unstructured; per layer, the fraction ``S`` of weights smallest in
  absolute value become 0.
* ``2:4``: N:M semi-structured; in every group of 4 consecutive input weights of a row,
  the 2 smallest become 0 (sparsity exactly 0.5; the pattern sparse tensor cores run).
* ``rows``: structured; per layer, the fraction ``S`` of output rows (neurons) with the
  smallest L2 norm become 0, with their bias.

What it does not do: the export stays dense (same shapes, same file size; a
compressor such as zip shrinks the zeros), and dense CPU kernels run no faster on
zeros. Removing rows outright would change the architecture the config rebuilds, so
``rows`` zeroes them instead. ``tests/benchmarks/bench_prune.py`` measures size,
speed and the model's own validation loss against the unpruned and int8 exports.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError

METHODS = ("magnitude", "2:4", "rows")


def prune_weight(weight: Tensor, method: str, sparsity: float) -> Tensor:
    """The 0/1 mask (as ``weight``'s dtype) that ``method`` keeps of a 2-D ``weight``."""
    if method == "magnitude":
        k = int(round(sparsity * weight.numel()))
        mask = torch.ones_like(weight)
        if k:
            order = weight.abs().flatten().argsort(stable=True)[:k]
            mask.view(-1)[order] = 0
        return mask
    if method == "2:4":
        rows, cols = weight.shape
        if cols % 4:
            return torch.ones_like(weight)  # a layer whose inputs do not split in fours stays dense
        groups = weight.abs().reshape(rows, cols // 4, 4)
        keep = groups.argsort(dim=-1, stable=True)[..., 2:]
        mask = torch.zeros_like(groups).scatter_(-1, keep, 1.0)
        return mask.reshape(rows, cols)
    if method == "rows":
        k = int(round(sparsity * weight.shape[0]))
        mask = torch.ones_like(weight)
        if k:
            mask[weight.norm(dim=1).argsort(stable=True)[:k]] = 0
        return mask
    raise ConfigError(f"--method {method}: unknown; valid choices: {', '.join(METHODS)}")


def prune_model(model: nn.Module, method: str, sparsity: float) -> dict[str, float]:
    """Prune ``model``'s untied linear layers in place; returns each layer's sparsity."""
    from genloom_compress.lora import linear_names

    if method not in METHODS:
        raise ConfigError(f"--method {method}: unknown; valid choices: {', '.join(METHODS)}")
    if method != "2:4" and not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"--sparsity {sparsity}: give a fraction from 0 to below 1, e.g. 0.5")
    layers = linear_names(model)
    if not layers:
        raise ConfigError("this model has no untied nn.Linear layer to prune")
    done = {}
    with torch.no_grad():
        for name in layers:
            layer = model.get_submodule(name)
            mask = prune_weight(layer.weight, method, sparsity)
            layer.weight.mul_(mask)
            if method == "rows" and layer.bias is not None:
                layer.bias.mul_(mask[:, 0])
            done[name] = float((layer.weight == 0).float().mean())
    return done


def prune_checkpoint(checkpoint: str, out_dir: str, method: str, sparsity: float,
                     force: bool = False) -> tuple[Any, dict[str, float]]:
    """Load ``checkpoint``, prune it, write the export ``out_dir``; (path, per-layer sparsity)."""
    from genloom.checkpoints import load_checkpoint, save_model

    model = load_checkpoint(checkpoint)
    if getattr(model, "quantized_layers", None):
        raise ConfigError(f"'{checkpoint}' is quantised; prune the float checkpoint, then quantise")
    done = prune_model(model, method, sparsity)
    note = {"pruned": {"method": method, "sparsity": sparsity if method != "2:4" else 0.5,
                       "layers": sorted(done)}}
    return save_model(model, out_dir, force=force, note=note), done
