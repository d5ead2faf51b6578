"""``losses``: a model's own objective averaged over the held-out test split.

For a VAE this is the negative ELBO (a bound on the negative log-likelihood); for an
autoregressive model the cross-entropy. It needs nothing beyond the model and data.
"""

from __future__ import annotations

from typing import Any

import torch

from genloom.errors import GenloomError


class TestLosses:
    """Average every value of ``model.validation_losses`` over the test split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        totals: dict[str, float] = {}
        count = 0
        model.eval()
        with torch.no_grad():
            for batch in datamodule.test_dataloader():
                parts = model.validation_losses(batch)
                n = len(batch["x"])
                for key, value in parts.items():
                    totals[key] = totals.get(key, 0.0) + float(value) * n
                count += n
        if not totals:
            raise GenloomError(
                f"model {type(model).__name__} has no likelihood or validation losses to report; "
                "use a sample-based metric: --metric frechet --metric novelty"
            )
        return {f"test/{k}": v / max(count, 1) for k, v in totals.items()}
