"""``clip_score``: the shipped CLIP-style model's opinion of how well samples fit their prompts.

A second opinion beside ``prompt_fidelity`` (which re-measures each asked attribute with
the captioner's own code): the contrastive image-text model of :mod:`genloom_t2i.clip`,
trained by ``python -m genloom_t2i.clip_train`` on the captioned train split, scores the
whole prompt against the whole sample. The prompts and samples are exactly
``prompt_fidelity``'s (the same examples of ``test`` and ``combos``, the same captions, the
same seeds), so the two metrics judge the same images. Reported per split:

* ``clip_score``: the mean of ``100 * max(cos, 0)`` between sample and prompt, as
  CLIPScore (Hessel et al., 2021) without its 2.5 weight;
* ``clip_retrieval``: the share of samples whose own prompt scores strictly highest among
  ``candidates`` prompts (its own and others of the split; a distractor saying the same
  thing ties, and a tie is a miss);
* ``*_floor``: the same for the real images the prompts were written from;
* ``*_chance``: the real images against the prompts shuffled as ``prompt_fidelity``
  shuffles them: what a model that ignores its prompt scores.

Keys: ``test/clip_score``, ``test/clip_retrieval``, ``test/combo_clip_score``,
``test/combo_clip_retrieval`` and their ``_floor`` and ``_chance``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_eval.metrics.heldout import all_examples
from genloom_t2i.clip import CANDIDATES, SHIPPED, Clip, clip_score, load_clip, retrieval_accuracy
from genloom_t2i.metrics import _draw, _held_attr, prompts_for


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int)


class ClipScore:
    """CLIP score and prompt retrieval of samples on test prompts and held-out combinations.

    Options (``genloom evaluate --set clip_score.steps=25``): ``steps`` and ``guidance`` as
    ``prompt_fidelity``'s; ``weights``: a file written by ``genloom_t2i.clip_train`` (default:
    the shipped one); ``candidates``: the prompts each sample is ranked among (default 10).
    """

    def __init__(self, steps: int | None = None, guidance: float | None = None,
                 weights: str | None = None, candidates: int = CANDIDATES) -> None:
        if steps is not None and (not _whole(steps) or steps < 1):
            raise ConfigError(f"metric clip_score: steps must be a whole number >= 1, got {steps!r}")
        if guidance is not None and (isinstance(guidance, bool) or not isinstance(guidance, (int, float))
                                     or guidance < 0):
            raise ConfigError(f"metric clip_score: guidance must be a number >= 0, got {guidance!r}")
        if not _whole(candidates) or candidates < 2:
            raise ConfigError(f"metric clip_score: candidates must be a whole number >= 2, got {candidates!r}")
        self.options: dict[str, Any] = {k: v for k, v in (("steps", steps), ("guidance", guidance))
                                        if v is not None}
        self.candidates = candidates
        # read now: a missing or damaged file fails before any sampling
        self.clip: Clip = load_clip(SHIPPED if weights is None else str(weights))

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        if not hasattr(model, "tokenize"):
            raise ConfigError("metric clip_score needs a text-to-image model (one with prompts)")
        if tuple(model.info.shape) != (1, 28, 28):
            raise ConfigError(f"metric clip_score reads 28x28 grey images (captioned_mnist); this model "
                              f"makes {tuple(model.info.shape)}")
        try:
            test, combos = datamodule.split("test"), datamodule.split("combos")
        except KeyError:
            raise ConfigError("metric clip_score needs captioned data: data.name=captioned_mnist") from None
        seed = int(model.run_cfg.seed)
        n = getattr(datamodule, "eval_n", None) or len(test)
        out: dict[str, float] = {}
        for prefix, data, held in (("test/", test, False), ("test/combo_", combos, True)):
            x, caps = _prompted(data, n, seed, held)
            texts = [c.text for c in caps]
            fake = _draw(model, caps, seed, **self.options)
            order = torch.randperm(len(caps), generator=torch.Generator().manual_seed(seed + 1))
            shuffled = [texts[int(i)] for i in order]
            for suffix, images, prompts in (("", fake, texts), ("_floor", x, texts), ("_chance", x, shuffled)):
                out[f"{prefix}clip_score{suffix}"] = clip_score(self.clip, images, prompts)
                out[f"{prefix}clip_retrieval{suffix}"] = retrieval_accuracy(
                    self.clip, images, prompts, self.candidates, seed + 2)
        return out


def _prompted(data: Any, n: int, seed: int, held: bool) -> tuple[Tensor, list[Any]]:
    """``prompt_fidelity``'s examples and prompts of one split: ``n`` examples in a seeded
    order, captioned by the dataset's captioner (on ``combos`` the held-out attribute always)."""
    ex = all_examples(data)
    order = torch.randperm(len(ex["x"]), generator=torch.Generator().manual_seed(seed))[:n]
    x, y, a = ex["x"][order], ex["y"][order], ex["attrs"][order]
    if held:
        caps = [prompts_for(y[i : i + 1], a[i : i + 1], seed + i, _held_attr(int(y[i])))[0]
                for i in range(len(y))]
    else:
        caps = prompts_for(y, a, seed)
    return x, caps
