"""``prompt_fidelity``: do samples show what their prompt asked for? Measured, not guessed.

For ``n`` examples of the ``test`` split (seen digit-attribute combinations) and of the
``combos`` split (the held-out ones, see :mod:`genloom_eval.data.captioned_mnist`), a
prompt is written by the dataset's own captioner from the example's label and measured
attributes (each attribute told with probability 1/2; on ``combos`` the held-out one
always), one sample is drawn per prompt, and:

* ``digit_acc``: the accuracy on the asked digit of genloom-eval's shipped classifier for
  the captioned digits (``captioned_mnist``, trained on their train split by
  ``scripts/train_feature_nets.py``; 0.96 on their test split);
* ``<attribute>_acc``: the share of samples whose attribute, re-measured with
  :mod:`genloom_eval.data.attributes` (the code that wrote the captions), is the asked one;
* ``fid``: the Fréchet distance in the classifier's features, samples against training images.

Floors: ``*_floor`` is the same number for the real images the prompts were written
from (the classifier's own error for digits; 1.0 for attributes, by construction),
``*_chance`` for the real images scored against a shuffled set of prompts (what a model
that ignores its prompt scores). ``combo_attr_acc`` is the accuracy on the held-out
attribute alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_eval.data.attributes import NAMES, attributes
from genloom_eval.data.captioned_mnist import HELD_OUT
from genloom_eval.data.captions import Caption, describe
from genloom_eval.metrics.classifier import batched, load_classifier
from genloom_eval.metrics.frechet import frechet_distance
from genloom_eval.metrics.heldout import all_examples

#: the shipped classifier that reads the samples: trained on the moved and shrunk digits
CLASSIFIER = "captioned_mnist"


def prompts_for(y: Tensor, attrs: Tensor, seed: int, always: tuple[str, ...] = ()) -> list[Caption]:
    """One caption per example, seeded by ``(seed, index)``."""
    return [describe(int(y[i]), attrs[i].numpy(), np.random.default_rng([seed, i, 3]), always=always)
            for i in range(len(y))]


def fidelity(images: Tensor, caps: list[Caption]) -> dict[str, float]:
    """Digit accuracy and per-attribute accuracy of ``images`` against what ``caps`` ask."""
    net = load_classifier(CLASSIFIER)
    digits = batched(net, images).argmax(1)
    asked = torch.tensor([c.digit for c in caps])
    out = {"digit_acc": float((digits == asked).float().mean())}
    measured = attributes(images)
    for name in NAMES:
        j = NAMES.index(name)
        rows = [(i, c.asked[name]) for i, c in enumerate(caps) if name in c.asked]
        if rows:
            idx, want = torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])
            out[f"{name}_acc"] = float((measured[idx, j] == want).float().mean())
    return out


def draw_once(model: Any, datamodule: Any, caps: list[Caption], seed: int, options: dict[str, Any]) -> Tensor:
    """One sample per caption at ``seed``, drawn once per evaluation: ``prompt_fidelity``
    and ``clip_score`` ask for the same prompts, seed and options, so the second reads the
    first's samples from the evaluation's datamodule (a new one per ``genloom evaluate``)
    instead of sampling them again."""
    key = (tuple(c.text for c in caps), seed, tuple(sorted(options.items())))
    drawn = vars(datamodule).setdefault("_t2i_samples", {})
    if key not in drawn:
        tokens = model.tokenize([c.text for c in caps])
        with torch.no_grad():
            drawn[key] = model.sample(len(caps), cond=tokens, generator=torch.Generator().manual_seed(seed),
                                      **options).data
    return drawn[key]


def sampling_options(metric: str, steps: Any, guidance: Any) -> dict[str, Any]:
    """The checked ``steps``/``guidance`` options of a prompt metric (one line, exit 2, for
    a bad one); only those given, so the model's own defaults apply otherwise."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"metric {metric}: steps must be a whole number >= 1, got {steps!r}")
    if guidance is not None and (isinstance(guidance, bool) or not isinstance(guidance, (int, float))
                                 or guidance < 0):
        raise ConfigError(f"metric {metric}: guidance must be a number >= 0, got {guidance!r}")
    return {k: v for k, v in (("steps", steps), ("guidance", guidance)) if v is not None}


def captioned_splits(metric: str, model: Any, datamodule: Any) -> tuple[Any, Any]:
    """The ``test`` and held-out ``combos`` splits a prompt metric reads, or one line saying
    the model takes no prompts or the data has no captions."""
    if not hasattr(model, "tokenize"):
        raise ConfigError(f"metric {metric} needs a text-to-image model (one with prompts)")
    try:
        return datamodule.split("test"), datamodule.split("combos")
    except KeyError:
        raise ConfigError(f"metric {metric} needs captioned data: data.name=captioned_mnist") from None


def prompted_examples(data: Any, n: int, seed: int, held: bool) -> tuple[Tensor, list[Caption]]:
    """``n`` examples of one split in a seeded order and their prompts, from the captioner
    that wrote the captions; with ``held`` (the ``combos`` split) each example's held-out
    attribute is always asked."""
    ex = all_examples(data)
    order = torch.randperm(len(ex["x"]), generator=torch.Generator().manual_seed(seed))[:n]
    x, y, a = ex["x"][order], ex["y"][order], ex["attrs"][order]
    if held:
        caps = [prompts_for(y[i : i + 1], a[i : i + 1], seed + i, _held_attr(int(y[i])))[0]
                for i in range(len(y))]
    else:
        caps = prompts_for(y, a, seed)
    return x, caps


class PromptFidelity:
    """Prompt fidelity on test prompts and held-out combinations, FID, and their floors.

    ``steps``: sampler steps per sample (None: the sampler's default, 50 for DDIM);
    ``guidance``: the guidance scale (None: the model's). Both are ``genloom evaluate
    --set prompt_fidelity.steps=25`` options.
    """

    def __init__(self, steps: int | None = None, guidance: float | None = None) -> None:
        self.options = sampling_options("prompt_fidelity", steps, guidance)

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        test, combos = captioned_splits("prompt_fidelity", model, datamodule)
        seed = int(model.run_cfg.seed)
        n = getattr(datamodule, "eval_n", None) or len(test)
        out: dict[str, float] = {}
        net = load_classifier(CLASSIFIER)
        train = all_examples(datamodule.split("train"))["x"]
        for split, data, held in (("test", test, False), ("combo", combos, True)):
            x, caps = prompted_examples(data, n, seed, held)
            only = "held" if held else None
            fake = draw_once(model, datamodule, caps, seed, self.options)
            shuffled = [caps[i] for i in torch.randperm(len(caps), generator=torch.Generator().manual_seed(seed + 1))]
            for suffix, images, prompts in (("", fake, caps), ("_floor", x, caps), ("_chance", x, shuffled)):
                if only:
                    scores = {"digit_acc": fidelity(images, prompts)["digit_acc"],
                              "attr_acc": _held_accuracy(images, prompts)}
                else:
                    scores = fidelity(images, prompts)
                prefix = "test/" if split == "test" else "test/combo_"
                out.update({f"{prefix}{k}{suffix}": v for k, v in scores.items()})
            if split == "test":
                feats = lambda z: batched(net.features, z).numpy()  # noqa: E731
                real = feats(train)
                out["test/fid"] = frechet_distance(feats(fake), real)
                out["test/fid_floor"] = frechet_distance(feats(x), real)
        return out


def _held_attr(digit: int) -> tuple[str, ...]:
    return tuple(name for d, name, _ in HELD_OUT if d == digit)


def _held_accuracy(images: Tensor, caps: list[Caption]) -> float:
    """The accuracy on each prompt's held-out attribute alone."""
    measured = attributes(images)
    hits = []
    for i, cap in enumerate(caps):
        for name in _held_attr(cap.digit):
            if name in cap.asked:
                hits.append(int(measured[i, NAMES.index(name)]) == cap.asked[name])
    return float(np.mean(hits)) if hits else float("nan")
