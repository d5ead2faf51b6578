"""``text``: character- or byte-level language-model data from any UTF-8 file.

The default corpus is the standard library's ``pydoc_data.topics`` (~465k characters
of English), present on every Python, so text models train with no download.
Splits are contiguous (train first, then validation, then test), so no window of
held-out text was seen in training.

Training windows start at random offsets by default (``windows: random``): each
epoch reads every fixed cut of the training text once, each window starting at a
uniformly random position inside its cut, so a model sees every alignment of the text
rather than the same fixed cuts every epoch (as nanoGPT's random ``get_batch`` offsets
do), and under DDP each process reads the cuts of its own shard. The offsets come from
torch's global generator, which ``seed`` fixes (``seed + rank`` on DDP process
``rank``), so a run is repeatable. Validation and test always read the fixed, non-overlapping windows,
so held-out numbers are exact totals over the split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError


def default_corpus() -> str:
    """The pydoc topics, joined in a fixed (sorted) order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


class Windows(Dataset):
    """Non-overlapping windows of ``length`` tokens cut from a token stream."""

    def __init__(self, tokens: Tensor, length: int) -> None:
        self.tokens, self.length = tokens, length

    def __len__(self) -> int:
        return max(0, (len(self.tokens) - 1) // self.length)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        starts = torch.as_tensor(indices, dtype=torch.long) * self.length
        offsets = torch.arange(self.length + 1)
        return {"x": self.tokens[starts[:, None] + offsets]}


class RandomWindows(Windows):
    """Windows of ``length`` tokens at random offsets: window ``i`` starts at a uniformly
    random position of the ``i``-th cut of :class:`Windows` (``[i * length, (i + 1) *
    length)``, the last start that leaves ``length + 1`` tokens at most).

    The epoch length is that of :class:`Windows` over the same tokens, and an epoch's
    (shuffled) indices read every cut once, each at a fresh alignment. The index decides
    where a window lies, so under DDP each process reads the cuts of its own shard of
    indices (Lightning's ``DistributedSampler``), not the same text as the others."""

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        last = len(self.tokens) - self.length - 1  # last start that leaves length + 1 tokens
        jitter = torch.randint(0, self.length, (len(indices),))
        starts = (torch.as_tensor(indices, dtype=torch.long) * self.length + jitter).clamp(max=last)
        offsets = torch.arange(self.length + 1)
        return {"x": self.tokens[starts[:, None] + offsets]}


WINDOW_CHOICES = ("random", "fixed")


class Text(GenDataset):
    """Windows of ``block_size + 1`` token ids (inputs plus the next-token targets)."""

    @dataclass
    class Config:
        path: str | None = None
        tokenizer: str = "char"
        block_size: int = field(default=128, metadata={"min": 1})
        #: vocabulary size for tokenizers that learn one (bpe); 0: the tokenizer's default
        vocab_size: int = 0
        #: training windows: "random" offsets each epoch, or "fixed" non-overlapping cuts
        windows: str = "random"

    def __init__(self, cfg) -> None:
        from genloom.errors import ComponentError
        from genloom.plugins import get_registry

        super().__init__(cfg)
        windows = getattr(cfg, "windows", "random")
        if windows not in WINDOW_CHOICES:
            raise ConfigError(
                f"data.windows: unknown choice '{windows}'; valid choices: "
                f"{', '.join(WINDOW_CHOICES)}"
            )
        try:  # any plugin's tokenizer component: a class with fit(text) and from_state(state)
            self._tokenizer_cls = get_registry().load("tokenizer", cfg.tokenizer)
        except ComponentError as exc:
            raise ConfigError(f"data.tokenizer: {exc}") from None
        self._text: str | None = None
        self._tokenizer: Any = None

    def text(self) -> str:
        if self._text is None:
            if self.cfg.path is None:
                self._text = default_corpus()
            else:
                path = Path(self.cfg.path)
                if not path.is_file():
                    raise ConfigError(f"data.path: text file '{path}' does not exist")
                try:
                    self._text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError as exc:
                    raise ConfigError(
                        f"data.path: '{path}' is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                        f"offset {exc.start}); convert it first, e.g. iconv -f latin1 -t utf-8"
                    ) from None
                except OSError as exc:
                    raise ConfigError(f"data.path: cannot read '{path}': {exc.strerror or exc}") from None
        return self._text

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            size = getattr(self.cfg, "vocab_size", 0)
            kwargs = {"vocab_size": size} if size else {}
            self._tokenizer = self._tokenizer_cls.fit(self.text(), **kwargs)
        return self._tokenizer

    def use_tokenizer(self, state: dict[str, Any]) -> None:
        """Encode with a saved tokenizer instead of fitting one (fine-tuning, evaluation):
        a model's ids must keep meaning what they meant in training."""
        from genloom_text.tokenizers import tokenizer_from_state

        self._tokenizer = tokenizer_from_state(state)

    @property
    def info(self) -> DataInfo:
        tok = self.tokenizer
        return DataInfo(
            kind="tokens",
            shape=(self.cfg.block_size + 1,),
            vocab_size=tok.vocab_size,
            tokenizer=tok.state(),
        )

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        ids = torch.tensor(self.tokenizer.encode(self.text()), dtype=torch.long)
        n = len(ids)
        n_train = int(n * (1 - val_fraction - test_fraction))
        n_val = int(n * val_fraction)
        parts = {
            "train": ids[:n_train],
            "val": ids[n_train : n_train + n_val],
            "test": ids[n_train + n_val :],
        }
        out = {k: Windows(v, self.cfg.block_size) for k, v in parts.items()}
        if getattr(self.cfg, "windows", "random") == "random" and len(parts["train"]) > self.cfg.block_size + 1:
            out["train"] = RandomWindows(parts["train"], self.cfg.block_size)
        return out
