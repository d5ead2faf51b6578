"""What sample-based metrics compare: held-out data and as many seeded model samples.

Conditional models are sampled with the held-out labels, so both sets have the same
class balance. The same model, data and seed give the same samples. Samples are drawn
with the run's ``sample.sampler`` and ``sample.options`` (:func:`run_sampling`), as its
training grids are: a recipe picks a few-step sampler for evaluation there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.data.splits import all_examples  # noqa: F401  (re-exported: the metrics import it from here)
from genloom.errors import ConfigError, GenloomError


def run_sampling(model: Any) -> dict[str, Any]:
    """The keyword arguments of ``model.sample`` that the run's ``sample`` section names:
    ``sampler`` (left out when it names none: the model's default) and its ``options``,
    e.g. ``{"sampler": "diffusion:dpmpp_2m", "steps": 15, "karras": True}``."""
    sample_cfg = model.run_cfg.get("sample") or {}
    sampler = sample_cfg.get("sampler") or None
    return {**({"sampler": sampler} if sampler else {}), **dict(sample_cfg.get("options") or {})}


def heldout_and_samples(model: Any, datamodule: Any, split: str = "test", metric: str = "") -> tuple[Tensor, Tensor]:
    """``(real, fake)`` as their kind's ``(n, features)`` float features, ``n`` = split size
    (``genloom evaluate --n`` for the test split). The test split's pair is the one
    ``comparison`` draws for every floored metric: one evaluation samples the model once."""
    from genloom.kinds import get_kind

    kind = get_kind(model.info.kind)
    if split == "test":
        from genloom_eval.metrics.comparison import comparison

        cmp = comparison(model, datamodule)
        real_x, fake = cmp.heldout, cmp.samples
    else:
        real = all_examples(datamodule.split(split))
        real_x, cond = real["x"], real.get("y") if model.conditional else None
        generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
        fake = model.sample(len(real_x), cond=cond, generator=generator, **run_sampling(model)).data
    try:
        return kind.features(real_x, model.info), kind.features(fake, model.info)
    except GenloomError as exc:
        raise ConfigError(f"metric {metric}: {exc}") from None
