"""``frechet``: the Fréchet distance between Gaussians fitted to real and generated data.

FID computes it on Inception features; nothing here may download weights, so this
metric computes it in data space (flattened pixels or point coordinates). Lower is
better, 0 means equal means and covariances. Values compare models on the same
dataset; they are not FID and not comparable across datasets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from genloom_eval.metrics.heldout import heldout_and_samples


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_stats(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``.

    The trace of the matrix square root is taken as the sum of square roots of the
    eigenvalues of the symmetric ``cov1^(1/2) cov2 cov1^(1/2)``, which has the same
    spectrum and stays exact for singular covariances (digits' always-blank corner
    pixels), where a general ``sqrtm`` of ``cov1 cov2`` warns and loses precision.
    """
    root = _psd_sqrt(cov1)
    middle = root @ cov2 @ root
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_root)


def frechet_distance(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to sample sets ``a`` and ``b`` (n, d)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    stats = [(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))) for x in (a, b)]
    return frechet_from_stats(*stats[0], *stats[1])


class Frechet:
    """Fréchet distance in data space between the test split and as many samples."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        real, fake = heldout_and_samples(model, datamodule, metric="frechet")
        return {"test/frechet": frechet_distance(real.numpy(), fake.numpy())}
