"""A text model's tokenizer travels with its weights.

Fine-tuning (``init_from=CKPT``) on new text, resuming such a run, and evaluating a
checkpoint must all encode text with the tokenizer the weights were trained with:
refitting a character vocabulary on another corpus would renumber the ids. The core
does this itself through the dataset protocol :class:`genloom.data.base.UsesSavedTokenizer`
(``use_tokenizer(state)``), which the ``text`` dataset implements; these helpers are the
same step for code outside ``train`` and ``evaluate`` (tests, scripts, other commands).
"""

from __future__ import annotations

from typing import Any

from genloom.data.base import UsesSavedTokenizer, adopt_saved_tokenizer


def adopt_tokenizer(dataset: Any, state: dict[str, Any] | None) -> bool:
    """Make ``dataset`` encode with the saved tokenizer ``state`` if it takes one."""
    return adopt_saved_tokenizer(dataset, state)


def adopt_checkpoint_tokenizer(dataset: Any, path: str) -> bool:
    """:func:`adopt_tokenizer` with the tokenizer saved in checkpoint/run/export ``path``."""
    if not isinstance(dataset, UsesSavedTokenizer):
        return False
    from genloom.checkpoints import read_weights

    meta, _ = read_weights(path)
    return adopt_tokenizer(dataset, (meta.get("info") or {}).get("tokenizer"))
