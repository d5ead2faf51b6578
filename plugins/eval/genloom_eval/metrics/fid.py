"""``fid`` and ``kid``: Fréchet and kernel distances in the shipped classifier's features.

FID is the Fréchet distance between Gaussians fitted to the features of samples and of
the training split; KID the unbiased squared MMD with the cubic polynomial kernel,
averaged over random subsets. Both are computed by torchmetrics with the shipped
digit classifier (:mod:`genloom_eval.metrics.classifier`) as ``feature=`` module, so nothing
is downloaded; values are not comparable with Inception FIDs, only within one dataset.
Each comes with its floor: the same metric for as many held-out real images.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from genloom.errors import ConfigError
from genloom_eval.metrics.classifier import FeatureExtractor, classifier_for
from genloom_eval.metrics.comparison import comparison

INSTALL_HINT = "metric {name} needs torchmetrics: pip install 'genloom-eval[metrics]'"


def _torchmetrics_metric(name: str, **kwargs: Any) -> Any:
    """torchmetrics' FID or KID (their modules directly: the ``torchmetrics.image``
    package exports them only with torch-fidelity installed, which a custom
    ``feature=`` module does not need)."""
    try:
        if name == "fid":
            from torchmetrics.image.fid import FrechetInceptionDistance as cls
        else:
            from torchmetrics.image.kid import KernelInceptionDistance as cls
    except ImportError:
        raise ConfigError(INSTALL_HINT.format(name=name)) from None
    with warnings.catch_warnings():  # KID warns that it keeps all features: ours are small
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        return cls(normalize=True, reset_real_features=False, **kwargs)


def _feed(metric: Any, x: torch.Tensor, real: bool, batch: int = 512) -> None:
    for part in x.split(batch):
        metric.update(part.float(), real=real)


def _fid_kid(model: Any, datamodule: Any, name: str) -> dict[str, float]:
    cmp = comparison(model, datamodule)
    extractor = FeatureExtractor(classifier_for(model, name))
    if name == "fid":
        metric = _torchmetrics_metric(name, feature=extractor)
    else:
        metric = _torchmetrics_metric(name, feature=extractor, subsets=50, subset_size=min(1000, cmp.n))
    out: dict[str, float] = {}
    _feed(metric, cmp.train, real=True)
    for key, fake in ((f"test/{name}", cmp.samples), (f"test/{name}_floor", cmp.heldout)):
        metric.reset()  # keeps the training features
        _feed(metric, fake, real=False)
        torch.manual_seed(0)  # KID's subsets come from the global generator
        with torch.no_grad():
            value = metric.compute()
        out[key] = float(value[0] if isinstance(value, tuple) else value)
    return out


class FID:
    """FID of samples and of held-out images against the training split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        return _fid_kid(model, datamodule, "fid")


class KID:
    """KID (mean over 50 subsets) of samples and of held-out images against the training split."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        return _fid_kid(model, datamodule, "kid")
