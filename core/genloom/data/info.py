"""What a model needs to know about its data, saved with every checkpoint.

Kept free of torch so the CLI can read it cheaply, and small enough that sampling from
a checkpoint never has to load the dataset again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DataInfo:
    """Shape and kind of one example, plus labels and vocabulary where they exist.

    ``kind`` is ``image`` (``shape`` = ``(channels, height, width)``, values in [-1, 1]),
    ``points`` (``shape`` = ``(dims,)``) or ``tokens`` (``shape`` = ``(length,)``).
    """

    kind: str
    shape: tuple[int, ...]
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    vocab_size: int = 0
    tokenizer: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-safe dict (``shape`` as a list), as checkpoints and exports store it;
        :meth:`from_dict` reads it back."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        """The DataInfo that :meth:`to_dict` wrote (from a checkpoint or an export)."""
        d = dict(d)
        d["shape"] = tuple(d["shape"])
        return cls(**d)
