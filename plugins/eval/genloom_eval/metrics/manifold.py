"""``prdc``: k-NN precision, recall, density and coverage (Naeem et al., 2020).

Each real feature vector gets a ball reaching its k-th nearest real neighbour, each
sample one reaching its k-th nearest sample. *Precision*: the share of samples inside
some real ball (are samples realistic?). *Recall*: the share of real points inside some
sample ball (is the data's variety covered?). *Density*: how many real balls a sample
lies in, over k (about 1 for matching distributions, robust to real outliers).
*Coverage*: the share of real balls holding at least one sample. The real set is the
training split, in the shipped classifier's features; the floor is the same for held-out
images. Higher is better for all four.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_eval.metrics.classifier import batched, classifier_for
from genloom_eval.metrics.comparison import comparison, sample_size


def kth_neighbour_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st is the point itself


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (n, d) features."""
    real, fake = real.double(), fake.double()
    real_r, fake_r = kth_neighbour_radii(real, k), kth_neighbour_radii(fake, k)
    d = torch.cdist(real, fake)  # (n_real, n_fake)
    inside_real = d < real_r[:, None]
    return {
        "precision": float(inside_real.any(dim=0).double().mean()),
        "recall": float((d < fake_r[None, :]).any(dim=1).double().mean()),
        "density": float(inside_real.double().sum() / (k * fake.shape[0])),
        "coverage": float((d.min(dim=1).values < real_r).double().mean()),
    }


class PRDC:
    """Precision, recall, density and coverage of samples and of held-out images, k = 5."""

    k = 5

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        n = sample_size(datamodule)
        if n <= self.k:  # each set needs a k-th nearest other point
            raise ConfigError(f"--n {n}: metric prdc needs at least {self.k + 1} samples "
                              f"(k = {self.k} nearest neighbours); give --n {self.k + 1} or more")
        cmp = comparison(model, datamodule)
        net = classifier_for(model, "prdc")
        train = batched(net.features, cmp.train)
        out: dict[str, float] = {}
        for suffix, x in (("", cmp.samples), ("_floor", cmp.heldout)):
            for key, value in prdc(train, batched(net.features, x), self.k).items():
                out[f"test/{key}{suffix}"] = value
        return out
