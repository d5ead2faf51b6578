"""``nll``: the negative log-likelihood of held-out data, as tight as the model allows.

A model with a variational bound (``likelihood = "bound"``, a VAE) reports its ELBO
through ``losses``; the ELBO can be far from ``-log p(x)``. A model that also defines
``importance_log_weights(batch, k)`` (``(k, n)`` values of ``log p(x, z) - log q(z|x)``)
gets the importance-weighted bound of Burda et al. (IWAE):
``-log (1/k) sum_i exp(w_i)``, which is never looser than the ELBO in expectation and
approaches the true NLL as ``k`` grows. A model with an exact likelihood that defines
``log_prob(x, cond)`` gets that instead.

Option ``k`` (default 64): ``genloom evaluate RUN --metric nll --set nll.k=512``.
Reported in nats per example (``test/nll``) and per dimension in bits
(``test/nll_bits_per_dim``; for continuous data a density, comparable only between
models of the same data).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genloom.capabilities import ExactLikelihood, ImportanceWeighted
from genloom.errors import ConfigError


class NLL:
    """IWAE (or exact) negative log-likelihood of the test split."""

    def __init__(self, k: int = 64) -> None:
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"metric nll: k must be a whole number >= 1, got {k!r}")
        self.k = k

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        weighted = model.importance_log_weights if isinstance(model, ImportanceWeighted) else None
        exact = model.log_prob if model.likelihood == "exact" and isinstance(model, ExactLikelihood) else None
        if weighted is None and exact is None:
            raise ConfigError(
                f"metric nll: {type(model).__name__} has no importance weights or exact "
                "log_prob; its own bound is in --metric losses"
            )
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in datamodule.test_dataloader():
                if weighted is not None:
                    w = weighted(batch, self.k)
                    log_px = torch.logsumexp(w, dim=0) - math.log(self.k)
                else:
                    log_px = exact(batch["x"], batch.get("y") if model.conditional else None)
                total -= float(log_px.double().sum())
                count += len(batch["x"])
        nll = total / max(count, 1)
        dims = math.prod(model.info.shape)
        out = {"test/nll": nll, "test/nll_bits_per_dim": nll / (dims * math.log(2))}
        if weighted is not None:
            out["test/nll_k"] = float(self.k)
        return out
