"""How much each example's denoising error counts: plain MSE or min-SNR weighting.

The loss is the squared error in the denoiser's own output space (``eps``, ``x0``
or ``v``), averaged over the data dimensions, times a per-timestep weight.

``mse`` weights every example 1. ``min_snr`` (Hang et al., 2023) makes the loss
equal, whatever the prediction kind, to ``min(SNR_t, gamma) * |x0 - x0_hat|^2``: an
error in ``eps`` is ``SNR_t`` times the matching error in ``x0``, and an error in
``v`` is ``SNR_t + 1`` times it, so the weights are ``min(SNR, gamma) / SNR``,
``min(SNR, gamma)`` and ``min(SNR, gamma) / (SNR + 1)``. Capping the weight of the
nearly-clean timesteps keeps them from dominating training.
"""

from __future__ import annotations

from torch import Tensor

WEIGHTINGS = ("mse", "min_snr")


def loss_weight(weighting: str, kind: str, snr: Tensor, gamma: float) -> Tensor | float:
    """The per-example weight for ``weighting`` and prediction ``kind`` at ``snr``."""
    if weighting == "mse":
        return 1.0
    if weighting != "min_snr":
        raise ValueError(f"unknown loss weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
    capped = snr.clamp(max=gamma)
    if kind == "eps":
        return capped / snr
    if kind == "x0":
        return capped
    return capped / (snr + 1)
