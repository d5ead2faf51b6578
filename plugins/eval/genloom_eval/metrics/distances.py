"""``mmd``, ``energy``, ``sliced_wasserstein``: two-sample distances for low-dimensional data.

Meant for ``points`` (toy2d), where data space is the right feature space; each is
computed on the kind's features for samples against the training split and, as the
floor, for as many held-out points. All are 0 for identical sets, lower is better.

* ``mmd``: squared maximum mean discrepancy with a Gaussian (RBF) kernel, the biased
  (V-statistic) estimate, bandwidth = median pairwise distance of the training points.
* ``energy``: ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (Székely), in data units.
* ``sliced_wasserstein``: the Wasserstein-2 distance of 1-D projections on 256 fixed
  random directions, root mean square over directions; sets of unequal size are
  compared through their quantiles.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.kinds import get_kind
from genloom_eval.metrics.comparison import comparison, with_floor

MAX_REFERENCE = 2000  # training points kept (seeded subset): pairwise matrices stay small


def median_bandwidth(x: Tensor) -> float:
    """The median of pairwise distances between distinct rows of ``x``."""
    d = torch.cdist(x, x)
    return float(d[~torch.eye(len(x), dtype=torch.bool)].median().clamp_min(1e-12))


def mmd_rbf(x: Tensor, y: Tensor, bandwidth: float) -> float:
    """Biased squared MMD between ``x`` and ``y`` with ``exp(-|a-b|^2 / (2 bandwidth^2))``."""
    def k(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth**2))

    return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Székely's energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (V-statistics)."""
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


def sliced_wasserstein(x: Tensor, y: Tensor, directions: int = 256, seed: int = 0) -> float:
    """Root mean square over random unit directions of the 1-D W2 between projections."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(x.shape[1], directions, generator=g, dtype=x.dtype)
    theta = theta / theta.norm(dim=0, keepdim=True)
    m = max(len(x), len(y))
    levels = (torch.arange(m, dtype=x.dtype) + 0.5) / m
    qx = torch.quantile(x @ theta, levels, dim=0)
    qy = torch.quantile(y @ theta, levels, dim=0)
    return float((qx - qy).pow(2).mean().sqrt())


def _sets(model: Any, datamodule: Any) -> tuple[Tensor, Tensor, Tensor]:
    cmp = comparison(model, datamodule)
    kind = get_kind(model.info.kind)
    train = cmp.train
    if len(train) > MAX_REFERENCE:
        train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]]
    feats = [kind.features(x, model.info).double() for x in (cmp.samples, cmp.heldout, train)]
    return feats[0], feats[1], feats[2]


class MMD:
    """RBF-kernel MMD^2 of samples and of held-out points against the training split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        fake, real, train = _sets(model, datamodule)
        h = median_bandwidth(train)
        return with_floor("mmd", lambda a, b: mmd_rbf(a, b, h), fake, real, train)


class Energy:
    """Energy distance of samples and of held-out points against the training split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        return with_floor("energy", energy_distance, *_sets(model, datamodule))


class SlicedWasserstein:
    """Sliced W2 of samples and of held-out points against the training split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        return with_floor("sliced_wasserstein", sliced_wasserstein, *_sets(model, datamodule))
