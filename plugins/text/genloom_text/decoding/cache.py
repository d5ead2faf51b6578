"""Selecting rows of a generator's cache without knowing what the cache is.

Beam search keeps the cache rows of the surviving beams, and sampling ``n`` continuations
of one prompt copies the prompt's cache ``n`` times. The cache is the generator's own
business, so the rule is: a generator may define ``select_cache(cache, index)``
(:class:`genloom.capabilities.SelectsCache`); if it
does not, its cache must be a nested tuple/list/dict of tensors with the batch on dim 0
(the transformer's per-layer keys and values, the RNN's batch-first state), and every
tensor is indexed along dim 0.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from genloom.capabilities import SelectsCache


def select_cache(generator: Any, cache: Any, index: Tensor) -> Any:
    """Rows ``index`` (a 1-D long tensor, repeats allowed) of ``cache``."""
    if isinstance(generator, SelectsCache):
        return generator.select_cache(cache, index)
    return _select(cache, index)


def _select(node: Any, index: Tensor) -> Any:
    if node is None:
        return None
    if isinstance(node, Tensor):
        return node.index_select(0, index.to(node.device))
    if isinstance(node, tuple):
        return tuple(_select(v, index) for v in node)
    if isinstance(node, list):
        return [_select(v, index) for v in node]
    if isinstance(node, dict):
        return {k: _select(v, index) for k, v in node.items()}
    raise TypeError(
        f"cannot select rows of a cache holding {type(node).__name__}; give the generator a "
        "select_cache(cache, index) method"
    )
