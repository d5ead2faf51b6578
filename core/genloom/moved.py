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

#: full component names that moved with their modules: old -> new. Saved run configs
#: and checkpoints store full names (``genloom:text``), so the registry resolves an old
#: one to its new owner when that is installed; no warning, a checkpoint is data.
MOVED_COMPONENTS: dict[str, str] = {
    "genloom:text": "text:text",
    "genloom:shakespeare": "text:shakespeare",
    "genloom:char": "text:char",
    "genloom:byte": "text:byte",
    "genloom:bpe": "text:bpe",
    "genloom:multinomial": "text:multinomial",
    "genloom:greedy": "text:greedy",
    "genloom:beam": "text:beam",
    "genloom:tokens": "text:tokens",
    "genloom:copying": "text:copying",
    "genloom:images": "eval:images",
    "genloom:mnist": "eval:mnist",
    "genloom:losses": "eval:losses",
    "genloom:frechet": "eval:frechet",
    "genloom:novelty": "eval:novelty",
    "genloom:nll": "eval:nll",
    "genloom:fid": "eval:fid",
    "genloom:kid": "eval:kid",
    "genloom:prdc": "eval:prdc",
    "genloom:classes": "eval:classes",
    "genloom:cas": "eval:cas",
    "genloom:cond_accuracy": "eval:cond_accuracy",
    "genloom:mmd": "eval:mmd",
    "genloom:energy": "eval:energy",
    "genloom:sliced_wasserstein": "eval:sliced_wasserstein",
}

#: the minor version in which the old paths stop working
REMOVED_IN = "0.3"


def moved_name(name: str, new: str, dist: str, where: str = "genloom") -> object:
    """``<where>.<name>``, moved to module ``new`` of ``dist``: the same object, with a
    DeprecationWarning naming the new import on every use (nothing is cached)."""
    try:
        module = importlib.import_module(new)
    except ModuleNotFoundError as exc:
        if exc.name and new.startswith(exc.name.split(".")[0]):
            raise AttributeError(
                f"{where}.{name} moved to {new}.{name} in the {dist} distribution: pip install {dist}"
            ) from None
        raise
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
        warnings.warn(f"'{old}' moved to '{self.new}' (distribution {self.dist}); the old path is "
                      f"removed in genloom {REMOVED_IN}", DeprecationWarning, stacklevel=2)
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
