"""Which metrics ``genloom evaluate`` runs when none are named.

Chosen from what the model declares and what its data is, never by model name, so a
plugin's model gets the same treatment:

* ``nll`` for a model with ``importance_log_weights`` (the IWAE bound);
* ``losses`` for every model whose ``validation_losses`` report something (likelihood
  bounds, cross-entropies, denoising losses, a GAN's adversarial diagnostics); a
  model with none skips it;
* ``image`` data with a shipped feature network (``digits``, ``mnist``): ``fid``, ``kid``,
  ``prdc``, ``classes``, ``cond_accuracy`` and ``cas`` for conditional models, and
  ``novelty``;
* other continuous data (``points``, image folders, a plugin's kinds): ``frechet`` and
  ``novelty``, plus ``mmd``, ``energy`` and ``sliced_wasserstein`` for ``points``;
* token data (text): ``losses`` and ``copying`` (verbatim n-gram overlap with the
  training text, against held-out text).
"""

from __future__ import annotations

from typing import Any

from genloom.capabilities import ImportanceWeighted
from genloom.kinds import get_kind
from genloom_eval.metrics.classifier import SHIPPED, dataset_name


def default_metrics(model: Any) -> list[str]:
    """The metric names that apply to ``model`` (``losses`` first: it may drop out)."""
    kind = get_kind(model.info.kind)
    names = ["losses"]
    if isinstance(model, ImportanceWeighted):
        names.append("nll")  # an importance-weighted bound, tighter than the ELBO in losses
    if not getattr(model, "default_sampler", None):
        return names  # a model that does not generate alone (a first stage)
    if not kind.continuous:
        return names + ["copying"] if model.info.tokenizer else names  # text
    if model.info.kind == "image" and dataset_name(model) in SHIPPED:
        names += ["fid", "kid", "prdc", "classes"]
        if model.conditional:
            names += ["cond_accuracy", "cas"]
        return names + ["novelty"]
    names += ["frechet", "novelty"]
    if model.info.kind == "points":
        names += ["mmd", "energy", "sliced_wasserstein"]
    return names
