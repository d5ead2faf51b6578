"""Evaluate a checkpoint with genloom's metrics: the one code path behind
``genloom evaluate`` and ``genloom bench``.

Lightning-free (sampling and scoring a trained model need no Trainer), so
``genloom evaluate`` stays light; ``genloom bench`` calls this on each run it trains,
and its numbers are therefore the ones ``genloom evaluate RUN --json`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genloom.errors import GenloomError


def evaluate_model(model: Any, metrics: Sequence[str] = (), n: int | None = None) -> dict[str, float]:
    """Score a loaded model (``genloom.load_checkpoint``) on its dataset's test split.

    ``metrics`` empty means every metric that applies (``genloom.metrics.choose``);
    ``n`` is the number of samples and held-out examples per sample-based metric
    (None: the test split's size). Returns ``{"test/NAME": value, ...}`` with a
    ``test/NAME_floor`` next to each sample-based metric.
    """
    import torch

    from genloom.build import build_dataset
    from genloom.data.inherit import adopt_tokenizer
    from genloom.data.splits import DataSplits
    from genloom.metrics.choose import default_metrics
    from genloom.plugins import get_registry

    torch.manual_seed(model.run_cfg.seed)  # stochastic objectives (a VAE's ELBO) repeat exactly
    dataset = build_dataset(model.run_cfg)
    adopt_tokenizer(dataset, model.info.tokenizer)  # text: the ids the model was trained on
    datamodule = DataSplits(dataset, model.run_cfg.data)  # plain: evaluating needs no Lightning
    datamodule.eval_n = n  # read by genloom.metrics.comparison.sample_size
    chosen = list(metrics) or default_metrics(model)
    results: dict[str, float] = {}
    for name in chosen:
        metric = get_registry().load("metric", name)()
        try:
            results.update(metric(model, datamodule))
        except GenloomError:
            if name == "losses" and not metrics:  # a model without losses (a GAN): skip
                continue
            raise
    return results


def evaluate_checkpoint(
    checkpoint: str | Path, metrics: Sequence[str] = (), n: int | None = None
) -> dict[str, float]:
    """Load ``checkpoint`` (a .ckpt, a run directory or an export) and :func:`evaluate_model` it."""
    from genloom.checkpoints import load_checkpoint

    return evaluate_model(load_checkpoint(str(checkpoint)), metrics, n)
