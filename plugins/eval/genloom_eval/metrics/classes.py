"""``classes`` and ``cond_accuracy``: are all classes generated, and the asked-for ones?

``classes`` labels every sample with the shipped classifier and compares the histogram
with the training split's labels: ``class_kl`` is KL(train || samples) in nats (the
sample histogram add-one smoothed, so a missing class costs a large but finite
amount), ``class_min_share`` and ``class_max_share`` the rarest and commonest class's
share (0.1 each for ten balanced classes), ``class_share_<c>`` each class's share.
``cond_accuracy`` draws samples for the held-out labels from a conditional model and
reports how often the classifier agrees with the label asked for. Floors: the same
for held-out real images (the classifier's own errors set them).

``cas`` (classification accuracy score) turns the question around: a classifier
(logistic regression on pixels) is fitted on the samples of a conditional model,
labelled with the classes they were drawn for, and tested on the real training
images. It is high only when the samples of each class are both right and as varied
as the real ones (a model that draws one good image per class scores low). Floor: the
same classifier fitted on as many held-out real images.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_eval.metrics.classifier import batched, classifier_for
from genloom_eval.metrics.comparison import comparison


def class_histogram(labels: Tensor, num_classes: int) -> Tensor:
    """Share of each class among ``labels``."""
    return torch.bincount(labels, minlength=num_classes).double() / max(len(labels), 1)


def class_kl(reference: Tensor, labels: Tensor, num_classes: int) -> float:
    """KL(reference histogram || add-one smoothed histogram of ``labels``), nats."""
    p = torch.bincount(reference, minlength=num_classes).double()
    p = p / p.sum()
    q = (torch.bincount(labels, minlength=num_classes).double() + 1) / (len(labels) + num_classes)
    keep = p > 0
    return float((p[keep] * (p[keep] / q[keep]).log()).sum())


def balance(reference: Tensor, labels: Tensor, num_classes: int, suffix: str = "") -> dict[str, float]:
    shares = class_histogram(labels, num_classes)
    out = {
        f"test/class_kl{suffix}": class_kl(reference, labels, num_classes),
        f"test/class_min_share{suffix}": float(shares.min()),
        f"test/class_max_share{suffix}": float(shares.max()),
    }
    if not suffix:
        out.update({f"test/class_share_{c}": float(s) for c, s in enumerate(shares)})
    return out


class ClassBalance:
    """The class histogram of samples under the shipped classifier, vs the training labels."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        cmp = comparison(model, datamodule)
        net = classifier_for(model, "classes")
        if cmp.train_y is None:
            raise ConfigError("metric classes needs a labelled dataset")
        predict = lambda x: batched(net, x).argmax(1)  # noqa: E731
        out = balance(cmp.train_y, predict(cmp.samples), net.num_classes)
        out.update(balance(cmp.train_y, predict(cmp.heldout), net.num_classes, "_floor"))
        return out


class ConditionalAccuracy:
    """The shipped classifier's accuracy on samples drawn for the held-out labels."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        if not model.conditional:
            raise ConfigError(f"metric cond_accuracy needs a conditional model; {type(model).__name__} is not")
        cmp = comparison(model, datamodule)
        net = classifier_for(model, "cond_accuracy")
        assert cmp.samples_y is not None and cmp.heldout_y is not None
        return {
            "test/cond_accuracy": float((batched(net, cmp.samples).argmax(1) == cmp.samples_y).double().mean()),
            "test/cond_accuracy_floor": float((batched(net, cmp.heldout).argmax(1) == cmp.heldout_y).double().mean()),
        }


def fit_logistic(x: Tensor, y: Tensor, num_classes: int, l2: float = 1.0, max_iter: int = 300) -> Tensor:
    """Multinomial logistic regression by L-BFGS: ``(weights, bias)`` as one
    ``(features + 1, classes)`` matrix.

    The objective is scikit-learn's ``LogisticRegression()`` default (summed
    cross-entropy plus ``l2 / 2`` times the squared weights, bias unpenalised), written
    in a few lines of torch so the evaluation library needs no scikit-learn.
    """
    x = torch.cat([x.flatten(1).double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    w = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=max_iter, tolerance_grad=1e-4,
                            tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")
    n = len(x)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w, y, reduction="sum") / n
        loss = loss + 0.5 * l2 * w[:-1].pow(2).sum() / n
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach()


def predict_logistic(w: Tensor, x: Tensor) -> Tensor:
    """The class :func:`fit_logistic`'s weights give each row of ``x``."""
    x = torch.cat([x.flatten(1).double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    return (x @ w).argmax(1)


def _fit_and_score(x: Tensor, y: Tensor, test_x: Tensor, test_y: Tensor) -> float:
    if len(torch.unique(y)) < 2:  # one class only: the classifier predicts it everywhere
        return float((test_y == y[0]).double().mean())
    w = fit_logistic(x, y.long(), int(max(int(y.max()), int(test_y.max())) + 1))
    return float((predict_logistic(w, test_x) == test_y).double().mean())


class ClassificationAccuracyScore:
    """Accuracy on real images of a classifier fitted on a conditional model's samples."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        if not model.conditional:
            raise ConfigError(f"metric cas needs a conditional model (its samples' labels); "
                              f"{type(model).__name__} is not")
        cmp = comparison(model, datamodule)
        if cmp.train_y is None:
            raise ConfigError("metric cas needs a labelled dataset")
        assert cmp.samples_y is not None and cmp.heldout_y is not None
        return {
            "test/cas": _fit_and_score(cmp.samples, cmp.samples_y, cmp.train, cmp.train_y),
            "test/cas_floor": _fit_and_score(cmp.heldout, cmp.heldout_y, cmp.train, cmp.train_y),
        }
