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

from genloom.errors import ConfigError, GenloomError


def evaluate_model(
    model: Any, metrics: Sequence[str] = (), n: int | None = None, settings: Sequence[str] = ()
) -> dict[str, float]:
    """Score a loaded model (``genloom.load_checkpoint``) on its dataset's test split.

    ``metrics`` empty means every metric that applies (``genloom_eval.metrics.choose``);
    ``n`` is the number of samples and held-out examples per sample-based metric
    (None: the test split's size); ``settings`` are ``METRIC.KEY=VALUE`` options of the
    metrics run (``genloom evaluate --set``). Returns ``{"test/NAME": value, ...}`` with a
    ``test/NAME_floor`` next to each sample-based metric.
    """
    import torch

    from genloom.build import build_dataset
    from genloom.data.base import adopt_saved_tokenizer
    from genloom.data.splits import DataSplits
    from genloom_eval.metrics.choose import default_metrics
    from genloom.plugins import get_registry

    seed = model.run_cfg.seed
    if not isinstance(seed, int) or not 0 <= seed < 2**32:  # an edited config.yaml or export
        raise ConfigError(f"the checkpoint's seed {seed!r} is out of range; it must be 0 to {2**32 - 1}")
    torch.manual_seed(seed)  # stochastic objectives (a VAE's ELBO) repeat exactly
    dataset = build_dataset(model.run_cfg)
    adopt_saved_tokenizer(dataset, model.info.tokenizer)  # token data: the ids the model was trained on
    datamodule = DataSplits(dataset, model.run_cfg.data)  # plain: evaluating needs no Lightning
    datamodule.eval_n = n  # read by genloom_eval.metrics.comparison.sample_size
    chosen = list(metrics) or default_metrics(model)
    options = metric_options(tuple(settings), chosen)
    results: dict[str, float] = {}
    for name in chosen:
        metric = build_metric(name, get_registry().load("metric", name), options.get(name, {}))
        try:
            results.update(metric(model, datamodule))
        except GenloomError:
            if name == "losses" and not metrics:  # a model without losses (a GAN): skip
                continue
            raise
    return results


def evaluate_checkpoint(
    checkpoint: str | Path, metrics: Sequence[str] = (), n: int | None = None, settings: Sequence[str] = ()
) -> dict[str, float]:
    """Load ``checkpoint`` (a .ckpt, a run directory or an export) and :func:`evaluate_model` it."""
    from genloom.checkpoints import load_checkpoint

    return evaluate_model(load_checkpoint(str(checkpoint)), metrics, n, settings)


def metric_options(settings: tuple[str, ...], chosen: list[str]) -> dict[str, dict[str, Any]]:
    """``("nll.k=512",)`` as ``{"nll": {"k": 512}}`` (values parsed as YAML)."""
    import yaml

    options: dict[str, dict[str, Any]] = {}
    for item in settings:
        key, eq, value = item.partition("=")
        name, dot, option = key.partition(".")
        if not (eq and dot and name and option):
            raise ConfigError(f"--set {item}: give METRIC.KEY=VALUE, e.g. --set nll.k=512")
        if name not in chosen:
            raise ConfigError(f"--set {item}: metric '{name}' is not being run; add --metric {name}")
        try:
            options.setdefault(name, {})[option] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: '{value}' is not a value") from None
    return options


def build_metric(name: str, cls: Any, options: dict[str, Any]) -> Any:
    """The metric ``cls`` with ``options``; an option it does not take is a one-line error."""
    import inspect

    accepted = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) or "none"
        raise ConfigError(f"--set {name}.{unknown[0]}: metric '{name}' has no such option (options: {valid})")
    return cls(**options)
