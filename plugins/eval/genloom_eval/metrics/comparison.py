"""What metrics with a real-data floor compare: samples, held-out data, training data.

Every such metric is computed twice with one function ``f(x, train)``: for ``n`` model
samples against the training split (the value) and for ``n`` held-out real examples
against the training split (the *floor*: what a perfect model that generalises would
score at this sample size, since held-out data is a fresh draw from the data
distribution). A value near its floor is as good as this metric can tell; a value much
better than the floor (a Fréchet distance below it, a novelty far below 1) means the
samples are closer to the training set than new data is: copying.

``n`` is the test split's size unless ``genloom evaluate --n`` asks for fewer (it sets
``datamodule.eval_n``); the held-out examples are then a seeded subset. Conditional
models are sampled with the held-out labels, so both sides have the same classes.
Samples are drawn with the run's ``sample.sampler`` and ``sample.options``
(``heldout.run_sampling``), once per model and reused by every metric of one evaluation.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_eval.metrics.heldout import all_examples, run_sampling


@dataclass
class Comparison:
    """Raw examples (as the model produces them) of the three sets a floored metric reads."""

    train: Tensor
    train_y: Tensor | None
    heldout: Tensor
    heldout_y: Tensor | None
    samples: Tensor
    #: the labels the samples were conditioned on (conditional models), else None
    samples_y: Tensor | None

    @property
    def n(self) -> int:
        return len(self.samples)


#: per model: the last (datamodule, n, seed) asked for and its sets (one entry; the
#: datamodule is held, not its id, so a new datamodule never finds stale sets)
_CACHE: "weakref.WeakKeyDictionary[Any, tuple[Any, int, int, Comparison]]" = weakref.WeakKeyDictionary()


def sample_size(datamodule: Any) -> int:
    """How many samples and held-out examples to compare (``eval_n`` or the test size)."""
    size = len(datamodule.split("test"))
    n = getattr(datamodule, "eval_n", None)
    if n is None:
        return size
    if not 2 <= n <= size:
        raise ConfigError(f"--n {n}: give 2 to {size} (the test split's size, for the real-data floor)")
    return int(n)


def comparison(model: Any, datamodule: Any) -> Comparison:
    """The three sets for ``model`` on ``datamodule``, sampled with the run's seed (cached)."""
    n = sample_size(datamodule)
    seed = int(model.run_cfg.seed)
    cached = _CACHE.get(model)
    if cached is not None and cached[0] is datamodule and cached[1:3] == (n, seed):
        return cached[3]
    train = all_examples(datamodule.split("train"))
    test = all_examples(datamodule.split("test"))
    order = torch.randperm(len(test["x"]), generator=torch.Generator().manual_seed(seed))[:n]
    held_x, held_y = test["x"][order], test["y"][order] if "y" in test else None
    cond = held_y if model.conditional else None
    with torch.no_grad():
        fake = model.sample(n, cond=cond, generator=torch.Generator().manual_seed(seed), **run_sampling(model)).data
    sets = Comparison(train["x"], train.get("y"), held_x, held_y, fake.detach(), cond)
    _CACHE[model] = (datamodule, n, seed, sets)
    return sets


def with_floor(name: str, fn: Callable[[Tensor, Tensor], float], fake: Tensor, real: Tensor,
               train: Tensor) -> dict[str, float]:
    """``{test/NAME: fn(fake, train), test/NAME_floor: fn(real, train)}``."""
    return {f"test/{name}": float(fn(fake, train)), f"test/{name}_floor": float(fn(real, train))}
