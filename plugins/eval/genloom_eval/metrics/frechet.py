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
    """The Fréchet distance between Gaussians fitted to sample sets ``a`` and ``b`` (n, d).

    With fewer examples than dimensions (465 piano rolls of 4,096 pixels) the
    covariances have rank below ``d``; :func:`frechet_low_rank` then gives the same value
    from ``(n, m)`` matrices instead of eigendecompositions of ``(d, d)`` ones (minutes).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if 2 <= min(len(a), len(b)) and max(len(a), len(b)) < a.shape[1]:
        return frechet_low_rank(a, b)
    stats = [(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))) for x in (a, b)]
    return frechet_from_stats(*stats[0], *stats[1])


def frechet_low_rank(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`frechet_distance` through the centred sets ``A`` (n, d) and ``B`` (m, d):
    ``cov1 cov2 = A^T A B^T B / ((n-1)(m-1))`` has the nonzero eigenvalues of
    ``(A B^T)(A B^T)^T / ((n-1)(m-1))``, so ``tr((cov1 cov2)^(1/2))`` is the sum of the
    singular values of ``A B^T`` over ``sqrt((n-1)(m-1))``: exact, O(n m d)."""
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mu1, b - mu2
    n, m = len(a), len(b)
    trace_root = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1))
    diff = mu1 - mu2
    return float(diff @ diff + (centred_a**2).sum() / (n - 1) + (centred_b**2).sum() / (m - 1) - 2 * trace_root)


class Frechet:
    """Fréchet distance in data space between the test split and as many samples."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        real, fake = heldout_and_samples(model, datamodule, metric="frechet")
        return {"test/frechet": frechet_distance(real.numpy(), fake.numpy())}
