"""Objects chosen in config by class path (loggers, callbacks, profilers, optimizers),
in LightningCLI's ``{class_path, init_args}`` shape; loggers also go by name.

Every class path is checked when the config loads, so a typo fails before anything
runs. Importing runs code, so only :data:`ALLOWED_MODULES` (torch's optimizers and
schedules, Lightning's loggers, callbacks and profilers) and packages named in
``GENLOOM_ALLOW_CLASS_PATHS`` are imported, and never from a checkpoint's saved config.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from typing import Any

from genloom.errors import ConfigError, did_you_mean

#: loggers by name -> (class path, the package it needs)
LOGGERS = {
    "csv": ("lightning.pytorch.loggers.CSVLogger", None),
    "tensorboard": ("lightning.pytorch.loggers.TensorBoardLogger", "tensorboard"),
    "wandb": ("lightning.pytorch.loggers.WandbLogger", "wandb"),
    "mlflow": ("lightning.pytorch.loggers.MLFlowLogger", "mlflow"),
}

#: trainer keys that take objects -> (the base class they must extend, what to call it)
BASES = {
    "logger": ("lightning.pytorch.loggers.Logger", "logger"),
    "callbacks": ("lightning.pytorch.callbacks.Callback", "callback"),
    "profiler": ("lightning.pytorch.profilers.Profiler", "profiler"),
}
PROFILER_NAMES = ("simple", "advanced", "pytorch", "xla")


#: modules (and the modules below them) whose classes a config may name without opting in
ALLOWED_MODULES = (
    "torch.optim",
    "lightning.pytorch.loggers", "lightning.pytorch.callbacks", "lightning.pytorch.profilers",
    "pytorch_lightning.loggers", "pytorch_lightning.callbacks", "pytorch_lightning.profilers",
)
#: the environment variable that opts in more packages: ``mypkg,other.callbacks``
ALLOW_ENV = "GENLOOM_ALLOW_CLASS_PATHS"

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def split_class_path(path: str, key: str) -> tuple[str, str]:
    """``(module, attribute)`` of ``pkg.module.Class`` or ``pkg.module:Class``, or a
    ConfigError; nothing is imported."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not (module_name and attr and _DOTTED.fullmatch(module_name) and _DOTTED.fullmatch(attr)):
        raise ConfigError(f"{key}: class_path '{path}' must look like 'package.module.Class'")
    return module_name, attr


def _opted_in() -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get(ALLOW_ENV, "").split(",") if p.strip())


def is_allowed(module_name: str) -> bool:
    """True when ``module_name`` lies under :data:`ALLOWED_MODULES` or an opted-in package."""
    return any(module_name == p or module_name.startswith(p + ".")
               for p in (*ALLOWED_MODULES, *_opted_in()))


def check_class_path(path: str, key: str) -> tuple[str, str]:
    """Refuse, without importing anything, a class path outside the allowlist."""
    module_name, attr = split_class_path(path, key)
    if not is_allowed(module_name):
        top = module_name.split(".")[0]
        raise ConfigError(f"{key}: genloom imports class paths only from torch.optim and Lightning's "
                          f"loggers, callbacks and profilers, and '{path}' is outside them (importing a "
                          f"module runs its code); to use a class of your own, opt its package in: "
                          f"{ALLOW_ENV}={top}")
    return module_name, attr


def import_class(path: str, key: str) -> type:
    """The class at ``path`` (``pkg.module.Class`` or ``pkg.module:Class``), or a
    ConfigError; only allowlisted or opted-in modules are imported."""
    module_name, attr = check_class_path(path, key)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise ConfigError(f"{key}: cannot import '{path}' ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, type):
        raise ConfigError(f"{key}: '{path}' is not a class")
    return obj


def _spec(value: Any, key: str) -> tuple[str, dict[str, Any]]:
    """``(class_path, init_args)`` of one ``{class_path, init_args}`` mapping."""
    if not isinstance(value, Mapping) or not isinstance(value.get("class_path"), str):
        raise ConfigError(f"{key}: {value!r} is not an object spec; use {{class_path: package.module.Class, "
                          "init_args: {...}}")
    extra = set(value) - {"class_path", "init_args"}
    if extra:
        raise ConfigError(f"{key}: unknown key '{sorted(extra)[0]}' in an object spec; use class_path, init_args")
    args = value.get("init_args") or {}
    if not isinstance(args, Mapping):
        raise ConfigError(f"{key}.init_args must be a mapping, got {args!r}")
    return value["class_path"], dict(args)


def _check_class(path: str, key: str, base_path: str, what: str) -> type:
    cls = import_class(path, key)
    base = import_class(base_path, key)
    if not issubclass(cls, base):
        raise ConfigError(f"{key}: '{path}' is not a {what} (a subclass of {base_path})")
    return cls


def check_trainer_objects(trainer: Mapping[str, Any]) -> None:
    """Validate ``trainer.logger``, ``trainer.callbacks`` and ``trainer.profiler`` at load time."""
    if "logger" in trainer:
        for i, item in enumerate(_as_list(trainer["logger"], "trainer.logger")):
            key = "trainer.logger" if not isinstance(trainer["logger"], list) else f"trainer.logger.{i}"
            if isinstance(item, str):
                if item not in LOGGERS:
                    raise ConfigError(f"{key}: unknown logger '{item}'{did_you_mean(item, LOGGERS)}; "
                                      f"choose one of {', '.join(LOGGERS)} or give "
                                      "{class_path: ..., init_args: ...}")
            else:
                _check_class(_spec(item, key)[0], key, *BASES["logger"])
    if "callbacks" in trainer and trainer["callbacks"] is not None:
        callbacks = trainer["callbacks"]
        for i, item in enumerate(callbacks if isinstance(callbacks, list) else [callbacks]):
            key = f"trainer.callbacks.{i}"
            _check_class(_spec(item, key)[0], key, *BASES["callbacks"])
    profiler = trainer.get("profiler")
    if profiler is not None and not (isinstance(profiler, str) and profiler in PROFILER_NAMES):
        if isinstance(profiler, str):
            raise ConfigError(f"trainer.profiler: unknown profiler '{profiler}'"
                              f"{did_you_mean(profiler, PROFILER_NAMES)}; choose one of "
                              f"{', '.join(PROFILER_NAMES)} or give {{class_path: ..., init_args: ...}}")
        _check_class(_spec(profiler, "trainer.profiler")[0], "trainer.profiler", *BASES["profiler"])


def _as_list(value: Any, key: str) -> list[Any]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, list):
        return value
    raise ConfigError(f"{key}: {value!r} is not a logger; use true or false, a name ({', '.join(LOGGERS)}), "
                      "{class_path: ..., init_args: {...}}, or a list of these")


def _instantiate(cls: type, args: dict[str, Any], key: str, needs: str | None = None) -> Any:
    try:
        return cls(**args)
    except ModuleNotFoundError as exc:
        package = needs or exc.name or "its package"
        raise ConfigError(f"{key}: {cls.__name__} needs '{package}': pip install {package}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot build {cls.__name__}: {exc}") from None


def build_loggers(value: Any, run_dir: str) -> list[Any]:
    """The extra loggers ``trainer.logger`` asks for (names get ``save_dir`` in the run)."""
    out = []
    for item in _as_list(value, "trainer.logger"):
        if isinstance(item, str):
            path, needs = LOGGERS[item]
            if needs and importlib.util.find_spec(needs) is None:
                raise ConfigError(f"trainer.logger: the {item} logger needs '{needs}': pip install {needs}")
            if item == "csv":
                continue  # metrics.csv is always written
            args = {"save_dir": run_dir}
            if item == "tensorboard":
                args.update(name="tensorboard", version="")
            cls = import_class(path, "trainer.logger")
            out.append(_instantiate(cls, args, "trainer.logger", needs))
        else:
            path, args = _spec(item, "trainer.logger")
            out.append(_instantiate(import_class(path, "trainer.logger"), args, "trainer.logger"))
    return out


def build_objects(value: Any, key: str) -> Any:
    """Instances for ``{class_path, init_args}`` specs (a list stays a list); other values pass."""
    if isinstance(value, list):
        return [build_objects(v, f"{key}.{i}") for i, v in enumerate(value)]
    if isinstance(value, Mapping) and "class_path" in value:
        path, args = _spec(value, key)
        return _instantiate(import_class(path, key), args, key)
    return value


def optimizer_class(name: str) -> type:
    """A ``torch.optim.Optimizer`` subclass named by class path (``torch.optim.NAdam``)."""
    import torch

    cls = import_class(name, "optim.name")
    if not issubclass(cls, torch.optim.Optimizer):
        raise ConfigError(f"optim.name: '{name}' is not a torch.optim.Optimizer")
    return cls
