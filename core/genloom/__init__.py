"""genloom: a small core for generative models; every architecture is a plugin.

The public API is importable from this package. It loads lazily, so that
``import genloom`` (and therefore ``genloom --help`` and plugin discovery) does not
import torch or lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: decorate ``genloom_*`` functions with it.
hookimpl = pluggy.HookimplMarker("genloom")

# eager (standard library only), so ``genloom.progress`` stays the function even where
# the module ``genloom.progress`` is imported first
from genloom.progress import progress  # noqa: E402
from genloom import moved as _moved  # noqa: E402

_moved.install()  # old import paths of modules that moved to a library distribution

#: the public API: name -> the module it is loaded from on first use. The one list:
#: ``__all__`` is built from it (at most 30 names, docs/architecture.md).
_LAZY = {
    "Encoder": "genloom.interfaces",
    "DiscreteEncoder": "genloom.interfaces",
    "Generator": "genloom.interfaces",
    "AutoregressiveGenerator": "genloom.interfaces",
    "InvertibleGenerator": "genloom.interfaces",
    "Denoiser": "genloom.interfaces",
    "Sampler": "genloom.interfaces",
    "Samples": "genloom.interfaces",
    "DiagonalGaussian": "genloom.interfaces",
    "DiscreteLatent": "genloom.interfaces",
    "FlowLatent": "genloom.interfaces",
    "IncompatibleSamplerError": "genloom.interfaces",
    "GenerativeModel": "genloom.model",
    "OptimizerGroup": "genloom.model",
    "EMA": "genloom.ema",
    "DataInfo": "genloom.data.info",
    "GenloomError": "genloom.errors",
    "ConfigError": "genloom.errors",
    "CheckpointError": "genloom.errors",
    "ComponentError": "genloom.errors",
    "load_config": "genloom.config",
    "build_model": "genloom.build",
    "build_component": "genloom.build",
    "train": "genloom.training",
    "load": "genloom.checkpoints",
    "save_model": "genloom.checkpoints",
    "register": "genloom.plugins",
}

__all__ = ["__version__", "hookimpl", "progress", *_LAZY]

#: names kept outside ``__all__``: ``load_checkpoint`` is ``load``'s earlier name
_KEPT = {"load_checkpoint": "genloom.checkpoints"}

#: root names that moved: name -> (the module to import it from, its distribution).
#: ``genloom.<name>`` still works, with a DeprecationWarning, until genloom 0.3.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "NoiseSchedule": ("genloom_diffusion", "genloom-diffusion"),
    "DiffusionSampler": ("genloom_diffusion", "genloom-diffusion"),
    "DenoisingModel": ("genloom_diffusion", "genloom-diffusion"),
    "FirstStage": ("genloom_diffusion", "genloom-diffusion"),
    "FirstStageConfig": ("genloom_diffusion", "genloom-diffusion"),
    "LanguageModel": ("genloom_text.language", "genloom-text"),
    "tokenizer_from_state": ("genloom_text.tokenizers", "genloom-text"),
    # left the root for their own modules (a smaller public surface, issue 19)
    "PriorSampler": ("genloom.samplers.prior", "genloom"),
    "LatentPriorSampler": ("genloom.samplers.latent_prior", "genloom"),
    "SampleKind": ("genloom.kinds", "genloom"),
    "get_kind": ("genloom.kinds", "genloom"),
    "save_samples": ("genloom.kinds", "genloom"),
    "Latent": ("genloom.interfaces", "genloom"),
    "FitContext": ("genloom.model", "genloom"),
    "DivergenceError": ("genloom.errors", "genloom"),
    "PluginError": ("genloom.errors", "genloom"),
    "get_registry": ("genloom.plugins", "genloom"),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        return _moved.moved_name(name, *_DEPRECATED[name])
    module = _LAZY.get(name) or _KEPT.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

