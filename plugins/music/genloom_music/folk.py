"""``folk``: folk tunes in ABC from music21's corpus, cleaned, split by tune, tokenized.

The tunes come from the ABC files the ``music21`` wheel carries (found with
``importlib.util.find_spec``, without importing music21): O'Neill's *Music of Ireland*
(1850 tunes, the default), Ryan's Mammoth Collection, the Essen folksong collection.
Each is cleaned to one line of normalised tokens (:mod:`genloom_music.abc`; tunes that
cannot be kept exactly are dropped), exact duplicates are dropped, and the unique tunes
are split into train/val/test by a seeded permutation of whole tunes, so no held-out
tune was seen in any form. Each split is its tunes, each preceded by a line break,
encoded with the ``abc`` tokenizer and cut into windows of ``block_size + 1`` tokens,
as the core's ``text`` dataset does; so the in-house ``transformer`` and ``rnn`` models
train on it unchanged.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset

from genloom import ConfigError, DataInfo
from genloom_text.data import Windows

from genloom_music.abc import NEWLINE, Dropped, clean_tune, join_tokens, split_tunes
from genloom_music.corpus import corpus_dir
from genloom_music.tokenizer import AbcTokenizer
from genloom_music.tune import read_tune

#: collection name -> folder under music21's corpus
COLLECTIONS = {"oneills": "oneills1850", "ryans": "ryansMammoth", "essen": "essenFolksong"}
_CACHE: dict[tuple[str, ...], tuple[list[list[str]], collections.Counter]] = {}


def load_tunes(collections_: list[str]) -> tuple[list[list[str]], collections.Counter]:
    """Cleaned, unique tunes (token lists) of the collections, in file order, and why
    the others were dropped. Cached per process."""
    key = tuple(collections_)
    if key in _CACHE:
        return _CACHE[key]
    unknown = [c for c in collections_ if c not in COLLECTIONS]
    if unknown or not collections_:
        raise ConfigError(f"data.collections: unknown collection {unknown or collections_}; "
                          f"valid choices: {', '.join(COLLECTIONS)}")
    root = corpus_dir("data.name=folk")
    tunes, seen, dropped = [], set(), collections.Counter()
    for name in collections_:
        files = sorted((root / COLLECTIONS[name]).glob("*.abc"))
        if name == "essen":  # music21's own parser tests, not folk songs
            files = [f for f in files if not f.name.startswith("test")]
        for path in files:
            for fields, body in split_tunes(path.read_text(encoding="latin-1")):
                try:
                    tokens = clean_tune(fields, body)
                except Dropped as exc:
                    dropped[str(exc).split(" ")[0]] += 1
                    continue
                if not read_tune(tokens).valid:
                    dropped["invalid"] += 1
                    continue
                if tuple(tokens) in seen:
                    dropped["duplicate"] += 1
                    continue
                seen.add(tuple(tokens))
                tunes.append(tokens)
    if not tunes:
        raise ConfigError(f"data.collections: no tunes found in {collections_}")
    _CACHE[key] = (tunes, dropped)
    return tunes, dropped


class Folk:
    """Folk tunes as ABC tokens; ``tunes(split)`` gives the tunes themselves."""

    @dataclass
    class Config:
        #: any of oneills (O'Neill's 1850), ryans (Ryan's Mammoth), essen (Essen folksongs)
        collections: list[str] = field(default_factory=lambda: ["oneills"])
        block_size: int = 256

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        if cfg.block_size < 2:
            raise ConfigError(f"data.block_size must be at least 2, got {cfg.block_size}")
        self._tokenizer: AbcTokenizer | None = None
        self._splits: dict[str, list[list[str]]] | None = None
        self._split_args: tuple | None = None

    def all_tunes(self) -> list[list[str]]:
        return load_tunes(list(self.cfg.collections))[0]

    @property
    def tokenizer(self) -> AbcTokenizer:
        if self._tokenizer is None:
            self._tokenizer = AbcTokenizer.fit(NEWLINE.join(join_tokens(t) for t in self.all_tunes()))
        return self._tokenizer

    def use_tokenizer(self, state: dict[str, Any]) -> None:
        """Encode with a saved tokenizer (fine-tuning, evaluation): ids keep their meaning."""
        self._tokenizer = AbcTokenizer.from_state(state)

    @property
    def info(self) -> DataInfo:
        tok = self.tokenizer
        return DataInfo(kind="abc", shape=(self.cfg.block_size + 1,), vocab_size=tok.vocab_size,
                        tokenizer=tok.state())

    def tune_splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, list[list[str]]]:
        """Whole tunes per split, by a seeded permutation."""
        args = (val_fraction, test_fraction, seed)
        if self._splits is None or self._split_args != args:
            tunes = self.all_tunes()
            order = torch.randperm(len(tunes), generator=torch.Generator().manual_seed(seed)).tolist()
            n_test, n_val = round(len(tunes) * test_fraction), round(len(tunes) * val_fraction)
            self._splits = {
                "test": [tunes[i] for i in order[:n_test]],
                "val": [tunes[i] for i in order[n_test : n_test + n_val]],
                "train": [tunes[i] for i in order[n_test + n_val :]],
            }
            self._split_args = args
        return self._splits

    def tunes(self, split: str) -> list[list[str]]:
        """The tunes of ``split`` from the last :meth:`splits` call."""
        if self._splits is None:
            raise RuntimeError("call splits() first")
        return self._splits[split]

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        out = {}
        for name, tunes in self.tune_splits(val_fraction, test_fraction, seed).items():
            text = "".join(NEWLINE + join_tokens(t) for t in tunes) + NEWLINE
            ids = torch.tensor(self.tokenizer.encode(text), dtype=torch.long)
            out[name] = Windows(ids, self.cfg.block_size)
        return out
