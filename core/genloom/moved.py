"""Old import paths of modules that left the core, kept working for one minor version.

Importing an old path (``genloom.language``) warns with a DeprecationWarning naming the new
one and returns *the same module object*, so classes keep one identity. A finder on
``sys.meta_path`` does it rather than stub files, which would load the new package's
submodules a second time; a missing library is an ImportError saying what to install.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable
from types import ModuleType

#: old module -> (new module, the distribution that ships it); removed in genloom 0.3
MOVED: dict[str, tuple[str, str]] = {
    # folded into genloom.config, beside load_config which reads the recipes it finds
    "genloom.example_configs": ("genloom.config", "genloom"),
    # the developer kit (genloom-devkit); conformance.py was merged into testing.checks
    "genloom.testing.conformance": ("genloom_devkit.testing.checks", "genloom-devkit"),
    "genloom.testing": ("genloom_devkit.testing", "genloom-devkit"),
    "genloom.scaffold": ("genloom_devkit.scaffold", "genloom-devkit"),
    "genloom.plugin_check": ("genloom_devkit.plugin_check", "genloom-devkit"),
    "genloom.cli_plugins_check": ("genloom_devkit.cli_plugins_check", "genloom-devkit"),
    "genloom.templates": ("genloom_devkit.templates", "genloom-devkit"),
    "genloom.denoising": ("genloom_diffusion.denoising", "genloom-diffusion"),
    "genloom.first_stage": ("genloom_diffusion.first_stage", "genloom-diffusion"),
    "genloom.language": ("genloom_text.language", "genloom-text"),
    "genloom.decoding": ("genloom_text.decoding", "genloom-text"),
    "genloom.data.text": ("genloom_text.data", "genloom-text"),
    "genloom.data.tokenizers": ("genloom_text.tokenizers", "genloom-text"),
    "genloom.data.bpe": ("genloom_text.bpe", "genloom-text"),
    "genloom.data.shakespeare": ("genloom_text.shakespeare", "genloom-text"),
    "genloom.data.inherit": ("genloom_text.inherit", "genloom-text"),
    "genloom.kinds.tokens": ("genloom_text.kinds", "genloom-text"),
    "genloom.metrics.copying": ("genloom_text.copying", "genloom-text"),
    # genloom-eval (genloom.metrics.copying above went to genloom-text)
    "genloom.metrics": ("genloom_eval.metrics", "genloom-eval"),
    "genloom.evaluation": ("genloom_eval.evaluation", "genloom-eval"),
    "genloom.bench": ("genloom_eval.bench", "genloom-eval"),
    "genloom.plot": ("genloom_eval.plot", "genloom-eval"),
    "genloom.interpolation": ("genloom_eval.interpolation", "genloom-eval"),
    "genloom.data.mnist": ("genloom_eval.data.mnist", "genloom-eval"),
    "genloom.data.images": ("genloom_eval.data.images", "genloom-eval"),
    # genloom-compress
    "genloom.lora": ("genloom_compress.lora", "genloom-compress"),
    "genloom.quantize": ("genloom_compress.quantize", "genloom-compress"),
}

#: full component names that moved with their modules: ``genloom:NAME`` -> ``NS:NAME``.
#: Saved run configs and checkpoints store full names (``genloom:text``), so the registry
#: resolves an old one to its new owner when that is installed; no warning, a checkpoint
#: is data.
_COMPONENTS_MOVED_TO = {
    "text": "text shakespeare char byte bpe multinomial greedy beam tokens copying",
    "eval": "images mnist losses frechet novelty nll fid kid prdc classes cas cond_accuracy mmd "
            "energy sliced_wasserstein",
}
MOVED_COMPONENTS: dict[str, str] = {
    f"genloom:{name}": f"{namespace}:{name}"
    for namespace, names in _COMPONENTS_MOVED_TO.items() for name in names.split()
}

#: the minor version in which the old paths stop working
REMOVED_IN = "0.3"


def _import(new: str, dist: str, missing: Callable[[str], Exception], what: str) -> ModuleType:
    # a missing library raises ``missing(message)`` saying what to install; any other failure propagates
    try:
        return importlib.import_module(new)
    except ModuleNotFoundError as exc:
        if exc.name and new.startswith(exc.name.split(".")[0]):
            raise missing(f"{what} in the {dist} distribution: pip install {dist}") from None
        raise


def moved_name(name: str, new: str, dist: str, where: str = "genloom") -> object:
    """``<where>.<name>``, moved to module ``new`` of ``dist``: the same object, with a
    DeprecationWarning naming the new import on every use (nothing is cached)."""
    module = _import(new, dist, AttributeError, f"{where}.{name} moved to {new}.{name}")
    warnings.warn(f"{where}.{name} moved to {new}.{name} (distribution {dist}); import it from "
                  f"{new}: the old name is removed in genloom {REMOVED_IN}", DeprecationWarning, stacklevel=3)
    return getattr(module, name)


def _target(fullname: str) -> tuple[str, str] | None:
    # the longest old prefix wins: a module moved apart from its package has its own entry
    matches = [old for old in MOVED if fullname == old or fullname.startswith(old + ".")]
    if not matches:
        return None
    old = max(matches, key=len)
    new, dist = MOVED[old]
    return new + fullname[len(old):], dist


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path in ``MOVED`` and loads it as the new module itself."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # noqa: ANN201
        found = _target(fullname)
        return None if found is None else importlib.machinery.ModuleSpec(fullname, self, loader_state=found)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a placeholder; exec_module puts the real module in its place

    def exec_module(self, module: ModuleType) -> None:
        old, (new, dist) = module.__name__, module.__spec__.loader_state
        target = _import(new, dist, lambda message: ModuleNotFoundError(message, name=old),
                         f"'{old}' moved to '{new}'")
        warnings.warn(f"'{old}' moved to '{new}' (distribution {dist}); the old path is "
                      f"removed in genloom {REMOVED_IN}", DeprecationWarning, stacklevel=2)
        # importlib returns whatever sys.modules holds after exec_module: the new module
        sys.modules[old] = target

_FINDER = _MovedFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
