"""Old import paths of modules that left the core, kept working for one minor version.

When a family library moved into its own distribution (``genloom.language`` is now
``genloom_text.language``), code written against the old path keeps running: importing
``genloom.language`` (or any module below it) imports the new module, warns once with a
:class:`DeprecationWarning` that names the new path, and returns *the same module
object*, so classes keep one identity (``isinstance`` holds across both names).

A finder on ``sys.meta_path`` does it, rather than a stub file per old module: a stub
package would load the new package's submodules a second time under the old names.
The table is data; nothing here imports another distribution until an old path is
used, and a missing library gives an ``ImportError`` saying what to install.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: old module -> (new module, the distribution that ships it); removed in genloom 0.3
MOVED: dict[str, tuple[str, str]] = {
    # genloom-eval; one entry per metric module while genloom.metrics.copying stays here
    "genloom.metrics.choose": ("genloom_eval.metrics.choose", "genloom-eval"),
    "genloom.metrics.classes": ("genloom_eval.metrics.classes", "genloom-eval"),
    "genloom.metrics.classifier": ("genloom_eval.metrics.classifier", "genloom-eval"),
    "genloom.metrics.comparison": ("genloom_eval.metrics.comparison", "genloom-eval"),
    "genloom.metrics.distances": ("genloom_eval.metrics.distances", "genloom-eval"),
    "genloom.metrics.fid": ("genloom_eval.metrics.fid", "genloom-eval"),
    "genloom.metrics.frechet": ("genloom_eval.metrics.frechet", "genloom-eval"),
    "genloom.metrics.heldout": ("genloom_eval.metrics.heldout", "genloom-eval"),
    "genloom.metrics.losses": ("genloom_eval.metrics.losses", "genloom-eval"),
    "genloom.metrics.manifold": ("genloom_eval.metrics.manifold", "genloom-eval"),
    "genloom.metrics.nll": ("genloom_eval.metrics.nll", "genloom-eval"),
    "genloom.metrics.novelty": ("genloom_eval.metrics.novelty", "genloom-eval"),
    "genloom.evaluation": ("genloom_eval.evaluation", "genloom-eval"),
    "genloom.bench": ("genloom_eval.bench", "genloom-eval"),
    "genloom.plot": ("genloom_eval.plot", "genloom-eval"),
    "genloom.interpolation": ("genloom_eval.interpolation", "genloom-eval"),
    "genloom.data.mnist": ("genloom_eval.data.mnist", "genloom-eval"),
    "genloom.data.images": ("genloom_eval.data.images", "genloom-eval"),
}

#: the minor version in which the old paths stop working
REMOVED_IN = "0.3"


def _target(fullname: str) -> tuple[str, str] | None:
    for old, (new, dist) in MOVED.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old):], dist
    return None


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, new: str, dist: str) -> None:
        self.new, self.dist = new, dist

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a placeholder; exec_module puts the real module in its place

    def exec_module(self, module: ModuleType) -> None:
        old = module.__name__
        try:
            target = importlib.import_module(self.new)
        except ModuleNotFoundError as exc:
            if exc.name and self.new.startswith(exc.name.split(".")[0]):
                raise ModuleNotFoundError(
                    f"'{old}' moved to '{self.new}' in the {self.dist} distribution: "
                    f"pip install {self.dist}", name=old,
                ) from None
            raise
        warnings.warn(
            f"'{old}' moved to '{self.new}' (distribution {self.dist}); the old path is "
            f"removed in genloom {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        # importlib returns whatever sys.modules holds after exec_module: the new module
        sys.modules[old] = target


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None):  # noqa: ANN201
        found = _target(fullname)
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedLoader(*found))


_FINDER = _MovedFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
