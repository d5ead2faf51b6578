"""genloom: a small core for generative models; every architecture is a plugin.

The public API is importable from this package. It loads lazily, so that
``import genloom`` (and therefore ``genloom --help`` and plugin discovery) does not
import torch or lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: decorate ``genloom_*`` functions with it.
hookimpl = pluggy.HookimplMarker("genloom")

# Eager, not lazy: the module needs only the standard library, and importing it here
# keeps ``genloom.progress`` the function even where ``genloom.progress`` (the module)
# is imported first, which would otherwise leave the module in its place.
from genloom.progress import progress  # noqa: E402
from genloom import moved as _moved  # noqa: E402

_moved.install()  # old import paths of modules that moved to a library distribution

_LAZY = {
    "Encoder": "genloom.interfaces",
    "Generator": "genloom.interfaces",
    "AutoregressiveGenerator": "genloom.interfaces",
    "InvertibleGenerator": "genloom.interfaces",
    "DiscreteEncoder": "genloom.interfaces",
    "Denoiser": "genloom.interfaces",
    "Sampler": "genloom.interfaces",
    "PriorSampler": "genloom.samplers.prior",
    "Samples": "genloom.interfaces",
    "DiagonalGaussian": "genloom.interfaces",
    "DiscreteLatent": "genloom.interfaces",
    "FlowLatent": "genloom.interfaces",
    "Latent": "genloom.interfaces",
    "LatentPriorSampler": "genloom.samplers.latent_prior",
    "SampleKind": "genloom.kinds",
    "get_kind": "genloom.kinds",
    "save_samples": "genloom.kinds",
    "NoiseSchedule": "genloom.denoising.schedule",
    "DiffusionSampler": "genloom.denoising.sampler",
    "DenoisingModel": "genloom.denoising.sampler",
    "FirstStage": "genloom.first_stage",
    "FirstStageConfig": "genloom.first_stage",
    "IncompatibleSamplerError": "genloom.interfaces",
    "GenerativeModel": "genloom.model",
    "OptimizerGroup": "genloom.model",
    "FitContext": "genloom.model",
    "DataInfo": "genloom.data.info",
    "GenloomError": "genloom.errors",
    "ConfigError": "genloom.errors",
    "CheckpointError": "genloom.errors",
    "PluginError": "genloom.errors",
    "DivergenceError": "genloom.errors",
    "ComponentError": "genloom.errors",
    "load_config": "genloom.config",
    "build_model": "genloom.build",
    "build_component": "genloom.build",
    "train": "genloom.training",
    "load_checkpoint": "genloom.checkpoints",
    "save_model": "genloom.checkpoints",
    "get_registry": "genloom.plugins",
    "register": "genloom.plugins",
    "EMA": "genloom.ema",
}

__all__ = ["__version__", "hookimpl", "progress", *_LAZY]

#: root names that left the core: name -> (new module, its distribution); they still
#: resolve, with a DeprecationWarning, until genloom 0.3 (see genloom.moved)
_DEPRECATED: dict[str, tuple[str, str]] = {
    "LanguageModel": ("genloom_text.language", "genloom-text"),
    "tokenizer_from_state": ("genloom_text.tokenizers", "genloom-text"),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        import warnings

        new, dist = _DEPRECATED[name]
        warnings.warn(
            f"genloom.{name} moved to {new}.{name} (distribution {dist}); the old name is "
            f"removed in genloom {_moved.REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        try:
            return getattr(importlib.import_module(new), name)
        except ModuleNotFoundError as exc:
            if exc.name and new.startswith(exc.name.split(".")[0]):
                raise ImportError(f"genloom.{name} moved to {new}: pip install {dist}") from None
            raise
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from genloom.build import build_component, build_model
    from genloom.checkpoints import load_checkpoint, save_model
    from genloom.config import load_config
    from genloom.data.info import DataInfo
    from genloom.ema import EMA
    from genloom.denoising.sampler import DenoisingModel, DiffusionSampler
    from genloom.denoising.schedule import NoiseSchedule
    from genloom.first_stage import FirstStage, FirstStageConfig
    from genloom.kinds import SampleKind, get_kind, save_samples
    from genloom.samplers.latent_prior import LatentPriorSampler
    from genloom.errors import (
        CheckpointError, ComponentError, ConfigError, DivergenceError, GenloomError, PluginError,
    )
    from genloom.interfaces import (
        AutoregressiveGenerator,
        Denoiser,
        DiagonalGaussian,
        DiscreteEncoder,
        DiscreteLatent,
        Encoder,
        FlowLatent,
        Generator,
        IncompatibleSamplerError,
        InvertibleGenerator,
        Latent,
        Sampler,
        Samples,
    )
    from genloom.model import FitContext, GenerativeModel, OptimizerGroup
    from genloom.plugins import get_registry, register
    from genloom.training import train
