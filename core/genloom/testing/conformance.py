"""Checks that a registered model keeps the core's contracts.

Each check fails with an AssertionError that says which contract broke, so a plugin
author sees the problem in their own test run rather than deep inside training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genloom.build import build_model
from genloom.config import load_config
from genloom.data.info import DataInfo
from genloom.model import GenerativeModel


def synthetic_batch(info: DataInfo, n: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random batch shaped like the data ``info`` describes (labels when it has classes)."""
    from genloom.kinds import get_kind

    g = torch.Generator().manual_seed(seed)
    x = get_kind(info.kind).random(info, n, g)
    batch = {"x": x}
    if info.num_classes:
        batch["y"] = torch.randint(0, info.num_classes, (n,), generator=g)
    return batch


def _players(model: GenerativeModel) -> list[str | None]:
    groups = model.optimizer_groups()
    return [g.name for g in groups] if groups else [None]


def check_model(
    name: str, info: DataInfo, overrides: Sequence[str] = (), *, n: int = 4
) -> GenerativeModel:
    """Build model ``name`` for ``info`` and check its contracts; return the model.

    Checked: it is a GenerativeModel built through the registry; every player's
    ``losses`` returns a finite scalar ``loss`` whose gradient reaches parameters;
    the default sampler returns ``n`` samples of the data's shape, identical for equal
    seeds; and a copy rebuilt from the same config and ``state_dict`` samples the same.
    """
    cfg = load_config(None, [f"model.name={name}", *overrides], check_trainer=False)
    model = build_model(cfg, info)
    assert isinstance(model, GenerativeModel), f"{name} is not a genloom.GenerativeModel"
    assert model.likelihood in ("exact", "bound", "none"), f"bad likelihood {model.likelihood!r}"
    batch = synthetic_batch(info)
    for player in _players(model):
        parts = model.losses(batch) if player is None else model.losses(batch, player=player)
        who = f"losses(batch{'' if player is None else f', player={player!r}'})"
        assert "loss" in parts, f"{who} must return a dict with a 'loss' key"
        loss = parts["loss"]
        assert loss.ndim == 0 and torch.isfinite(loss), f"{who}['loss'] must be a finite scalar"
        model.zero_grad(set_to_none=True)
        loss.backward()
        assert any(p.grad is not None for p in model.parameters()), f"{who} reaches no parameter"
        model.zero_grad(set_to_none=True)
    _check_sampling(model, info, n)
    clone = build_model(cfg, info)
    clone.load_state_dict(model.state_dict())
    if model.default_sampler:
        a, b = (_draw(m, info, n, seed=1) for m in (model, clone))
        assert torch.equal(a, b), "a model rebuilt from config + state_dict samples differently"
    return model


def _draw(model: Any, info: DataInfo, n: int, seed: int) -> torch.Tensor:
    cond = torch.arange(n) % info.num_classes if model.conditional and info.num_classes else None
    return model.sample(n, cond=cond, generator=torch.Generator().manual_seed(seed)).data


def _check_sampling(model: Any, info: DataInfo, n: int) -> None:
    if not model.default_sampler:
        return
    a, b, c = (_draw(model, info, n, seed) for seed in (0, 0, 1))
    assert a.shape[0] == n, f"the default sampler returned {a.shape[0]} samples, not {n}"
    from genloom.kinds import get_kind

    if get_kind(info.kind).continuous:
        assert tuple(a.shape[1:]) == tuple(info.shape), (
            f"samples have shape {tuple(a.shape[1:])}, the data {tuple(info.shape)}"
        )
    assert torch.equal(a, b), "equal seeds gave different samples: use only the generator passed in"
    assert not torch.equal(a, c), "different seeds gave equal samples"
