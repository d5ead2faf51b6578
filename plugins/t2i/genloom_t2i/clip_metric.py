"""``clip_score``: the shipped CLIP-style model's opinion of how well samples fit their prompts.

A second opinion beside ``prompt_fidelity`` (which re-measures each asked attribute with
the captioner's own code): the contrastive image-text model of :mod:`genloom_t2i.clip`,
trained by ``python -m genloom_t2i.clip_train`` on the captioned train split, scores the
whole prompt against the whole sample. The prompts and samples are exactly
``prompt_fidelity``'s (the same examples of ``test`` and ``combos``, the same captions, the
same seeds), so the two metrics judge the same images, drawn once per evaluation
(``genloom_t2i.metrics.draw_once``). Reported per split:

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

from genloom.errors import ConfigError
from genloom_t2i.clip import CANDIDATES, SHIPPED, Clip, clip_score, load_clip, retrieval_accuracy
from genloom_t2i.metrics import captioned_splits, draw_once, prompted_examples, sampling_options


class ClipScore:
    """CLIP score and prompt retrieval of samples on test prompts and held-out combinations.

    Options (``genloom evaluate --set clip_score.steps=25``): ``steps`` and ``guidance`` as
    ``prompt_fidelity``'s; ``weights``: a file written by ``genloom_t2i.clip_train`` (default:
    the shipped one); ``candidates``: the prompts each sample is ranked among (default 10).
    """

    def __init__(self, steps: int | None = None, guidance: float | None = None,
                 weights: str | None = None, candidates: int = CANDIDATES) -> None:
        self.options = sampling_options("clip_score", steps, guidance)
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2:
            raise ConfigError(f"metric clip_score: candidates must be a whole number >= 2, got {candidates!r}")
        self.candidates = candidates
        # read now: a missing or damaged file fails before any sampling
        self.clip: Clip = load_clip(SHIPPED if weights is None else str(weights))

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        test, combos = captioned_splits("clip_score", model, datamodule)
        if tuple(model.info.shape) != (1, 28, 28):
            raise ConfigError(f"metric clip_score reads 28x28 grey images (captioned_mnist); this model "
                              f"makes {tuple(model.info.shape)}")
        seed = int(model.run_cfg.seed)
        n = getattr(datamodule, "eval_n", None) or len(test)
        out: dict[str, float] = {}
        for prefix, data, held in (("test/", test, False), ("test/combo_", combos, True)):
            x, caps = prompted_examples(data, n, seed, held)
            texts = [c.text for c in caps]
            fake = draw_once(model, datamodule, caps, seed, self.options)
            order = torch.randperm(len(caps), generator=torch.Generator().manual_seed(seed + 1))
            shuffled = [texts[int(i)] for i in order]
            for suffix, images, prompts in (("", fake, texts), ("_floor", x, texts), ("_chance", x, shuffled)):
                out[f"{prefix}clip_score{suffix}"] = clip_score(self.clip, images, prompts)
                out[f"{prefix}clip_retrieval{suffix}"] = retrieval_accuracy(
                    self.clip, images, prompts, self.candidates, seed + 2)
        return out

