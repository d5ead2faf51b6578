"""A text model's tokenizer travels with its weights.

Fine-tuning (``init_from=CKPT``) on new text, resuming such a run, and evaluating a
checkpoint must all encode text with the tokenizer the weights were trained with:
refitting a character vocabulary on another corpus would renumber the ids.
"""

from __future__ import annotations

from typing import Any


def adopt_tokenizer(dataset: Any, state: dict[str, Any] | None) -> bool:
    """Make ``dataset`` encode with the saved tokenizer ``state`` if it takes one."""
    use = getattr(dataset, "use_tokenizer", None)
    if use is None or not state:
        return False
    use(state)
    return True


def adopt_checkpoint_tokenizer(dataset: Any, path: str) -> bool:
    """:func:`adopt_tokenizer` with the tokenizer saved in checkpoint/run/export ``path``."""
    if getattr(dataset, "use_tokenizer", None) is None:
        return False
    from genloom.checkpoints import read_weights

    meta, _ = read_weights(path)
    return adopt_tokenizer(dataset, (meta.get("info") or {}).get("tokenizer"))
