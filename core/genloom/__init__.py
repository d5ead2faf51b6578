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

#: root names that moved to a library distribution: name -> (new module, distribution).
#: ``genloom.<name>`` still works, with a DeprecationWarning, until genloom 0.3.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "NoiseSchedule": ("genloom_diffusion", "genloom-diffusion"),
    "DiffusionSampler": ("genloom_diffusion", "genloom-diffusion"),
    "DenoisingModel": ("genloom_diffusion", "genloom-diffusion"),
    "FirstStage": ("genloom_diffusion", "genloom-diffusion"),
    "FirstStageConfig": ("genloom_diffusion", "genloom-diffusion"),
    "LanguageModel": ("genloom_text.language", "genloom-text"),
    "tokenizer_from_state": ("genloom_text.tokenizers", "genloom-text"),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        return _moved.moved_name(name, *_DEPRECATED[name])
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
