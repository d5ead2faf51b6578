"""Example configs shipped inside the packages that own them, reachable by name.

A pip user has no ``examples/configs/`` folder, so ``genloom train gan-digits`` must
find the YAML inside the installed ``genloom-gan``. Each plugin registers its
examples as components of kind ``config`` whose target is ``"package:path"``, a
file inside an importable package (``"genloom_gan:configs/gan-digits.yaml"``), read
with :mod:`importlib.resources`. Being components, they get what every component
gets for free: ``genloom list configs``, full names (``gan:gan-digits``), the
owner's-plugin rules for clashing short names, and a "did you mean" on a typo.

Imports neither torch nor lightning: ``genloom config init`` and the lookup in
``genloom train`` run before anything heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genloom.errors import ComponentError, ConfigError
from genloom.registry import packaged_file  # noqa: F401  (where it lived before)

KIND = "config"
SUFFIXES = (".yaml", ".yml")


def config_file(name: str, registry: Any = None) -> Path:
    """The packaged YAML file of example config ``name`` (short or full name).

    Raises ConfigError naming the known examples when there is no such config, or
    saying what is wrong with the installed plugin when its file is missing.
    """
    if registry is None:
        from genloom.plugins import get_registry

        registry = get_registry()
    try:
        component = registry.resolve(KIND, name)
    except ComponentError as exc:
        raise ConfigError(
            f"{exc}; a config is a YAML file path or the name of an example "
            "('genloom list configs')"
        ) from None
    try:
        return packaged_file(component)
    except ComponentError as exc:
        raise ConfigError(str(exc)) from None


def resolve_config_argument(arg: str, registry: Any = None) -> str:
    """What ``genloom train CONFIG`` reads: ``arg`` itself if it is a file or looks like
    a path, else the packaged example config named ``arg``.

    A path that does not exist is returned unchanged, so the caller's "config file
    does not exist" error names it.
    """
    if Path(arg).exists() or "/" in arg or "\\" in arg or arg.endswith(SUFFIXES):
        return arg
    return str(config_file(arg, registry))
