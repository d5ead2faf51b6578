"""A progress bar for long loops outside training (a 1000-step diffusion sampler), so
every plugin's bar looks the same: on stderr, drawn only when stderr is a terminal or
``GENLOOM_PROGRESS=1`` (``0`` turns it off). Import it as ``from genloom import progress``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

ENV = "GENLOOM_PROGRESS"
_FALSY = ("0", "false", "no", "off")


def enabled() -> bool:
    """Whether :func:`progress` draws a bar: ``GENLOOM_PROGRESS`` if set, else a TTY check."""
    value = os.environ.get(ENV, "").strip().lower()
    if value:
        return value not in _FALSY
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    """``iterable``, with a bar on stderr while it is consumed (when :func:`enabled`).

    The bar is removed when the loop ends (``leave=False``), so a bar inside a
    training epoch (sample grids) does not pile up lines under Lightning's own bar.
    Redraws are throttled to a few per second, so a fast loop pays almost nothing.
    """
    if not enabled():
        return iterable
    from tqdm.auto import tqdm  # tqdm comes with lightning; imported only when drawn

    # a loop left early (break, exception) closes the bar too: tqdm's iterator does
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.2)
