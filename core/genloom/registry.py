"""Named components, resolved lazily: registered by import path, imported only when used.

A full name is ``plugin:name``; a short name works while one plugin uses it. Nothing is
silently overridden: a clash makes the short name ambiguous, an error listing full names.
"""

from __future__ import annotations

import importlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genloom.errors import ComponentError, did_you_mean
from genloom.moved import MOVED_COMPONENTS

#: The component kinds the core itself consumes. Plugins may register other kinds.
COMPONENT_KINDS = (
    "model", "encoder", "generator", "denoiser", "sampler", "dataset", "metric", "tokenizer",
    "sample_kind", "config", "quantizer", "layout", "optimizer",
)
#: the plugin name of the core's own components (``genloom:prior``, ``genloom:digits``)
CORE_PLUGIN = "genloom"


@dataclass(frozen=True)
class Component:
    """One registered component: where it lives and who provides it."""

    kind: str
    name: str
    plugin: str
    target: str
    help: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    def load(self) -> Any:
        """Import and return the target object (a ``config`` component's file path, never
        imported); errors name the component and its plugin."""
        if self.kind == "config":
            return packaged_file(self)
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except Exception as exc:  # a plugin's import error becomes a user-facing line
            raise ComponentError(f"{self.kind} '{self.full_name}' could not be loaded from {self.target}: "
                                 f"{type(exc).__name__}: {exc}") from exc
        return obj


def packaged_file(component: Any) -> Path:
    """The file a ``config`` component names (``"package:relative/path.yaml"``), or a
    ComponentError (what ``genloom plugins check`` reports) when it is missing."""
    package, _, relative = component.target.partition(":")
    try:
        path = Path(str(importlib.resources.files(package).joinpath(relative)))
    except (ImportError, TypeError) as exc:
        raise ComponentError(
            f"config '{component.full_name}' points into package '{package}', which does not "
            f"import as a package ({type(exc).__name__}: {exc}); config files live in a "
            f"package's folder: fix the target or reinstall plugin '{component.plugin}'"
        ) from None
    if not path.is_file():
        raise ComponentError(
            f"config '{component.full_name}' names {component.target}, which is not a file of the "
            f"installed package ({path}); fix the path or ship the file as package data"
        )
    return path


class Registry:
    """All components of all loaded plugins, by kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {}
        #: plugin name -> the one-line error that made it unusable
        self.unavailable: dict[str, str] = {}
        #: the components a disabled plugin declares in its table, by kind then full
        #: name, so that naming one says the plugin is disabled (never "did you mean")
        self.disabled: dict[str, dict[str, Component]] = {}
        #: plugin name -> why it is disabled (the environment variable that did it)
        self.disabled_plugins: dict[str, str] = {}

    def add(self, component: Component) -> None:
        """Add a component; the same full name twice is an error."""
        if ":" in component.name or not component.name:
            raise ComponentError(f"plugin '{component.plugin}' registered a {component.kind} named "
                                 f"'{component.name}'; names must be non-empty and contain no ':'")
        if ":" not in component.target:
            raise ComponentError(f"plugin '{component.plugin}' registered {component.kind} '{component.name}' "
                                 f"with target '{component.target}'; use the form "
                                 "'package.module:Attribute'")
        table = self._by_kind.setdefault(component.kind, {})
        if component.full_name in table:
            raise ComponentError(f"plugin '{component.plugin}' registered {component.kind} "
                                 f"'{component.name}' twice")
        table[component.full_name] = component

    def remove(self, component: Component) -> None:
        """Forget ``component`` (used to roll back a plugin that failed half-way)."""
        self._by_kind.get(component.kind, {}).pop(component.full_name, None)

    def kinds(self) -> list[str]:
        return sorted(set(self._by_kind) | set(COMPONENT_KINDS))

    def components(self, kind: str | None = None) -> list[Component]:
        """Every component, or every component of one kind, sorted by full name."""
        kinds = [kind] if kind else sorted(self._by_kind)
        out = [c for k in kinds for c in self._by_kind.get(k, {}).values()]
        return sorted(out, key=lambda c: (c.kind, c.full_name))

    def by_plugin(self, plugin: str) -> list[Component]:
        return [c for c in self.components() if c.plugin == plugin]

    def owner_of(self, obj: Any) -> str | None:
        """The plugin that registered the class of ``obj`` (or ``obj``, a class), if any."""
        cls = obj if isinstance(obj, type) else type(obj)
        target = f"{cls.__module__}:{cls.__qualname__}"
        for table in self._by_kind.values():
            for component in table.values():
                if component.target == target:
                    return component.plugin
        return None

    def resolve(self, kind: str, name: str, prefer: str | None = None) -> Component:
        """Find a component by full or short name, or raise a ComponentError that helps.

        A short name several plugins provide resolves to ``prefer``'s (the plugin whose
        section names it: the VAE's own ``mlp`` decoder), else to the core's, else is
        ambiguous. A full name never depends on what else is installed.
        """
        table = self._by_kind.get(kind, {})
        if name in table:
            return table[name]
        if MOVED_COMPONENTS.get(name) in table:  # a saved full name from before a move
            return table[MOVED_COMPONENTS[name]]
        plugin, sep, short = name.rpartition(":")
        if sep and plugin in self.unavailable:
            raise ComponentError(f"{kind} '{name}' comes from plugin '{plugin}', which is unusable: "
                                 f"{self.unavailable[plugin]}")
        if sep and plugin in self.disabled_plugins:
            raise ComponentError(f"{kind} '{name}' comes from plugin '{plugin}', which is disabled "
                                 f"{self.disabled_plugins[plugin]}")
        matches = [c for c in table.values() if c.name == (short if sep else name)]
        if not sep and len(matches) == 1:
            return matches[0]
        own = [c for c in matches if c.plugin == prefer] or [
            c for c in matches if c.plugin == CORE_PLUGIN
        ]
        if not sep and len(matches) > 1 and len(own) == 1:
            return own[0]
        if not sep and len(matches) > 1:
            options = ", ".join(sorted(c.full_name for c in matches))
            raise ComponentError(f"{kind} name '{name}' is ambiguous: it is provided by several plugins; "
                                 f"use one of the full names {options}")
        if name in self.unavailable:
            raise ComponentError(f"{kind} '{name}' may come from plugin '{name}', which is unusable: "
                                 f"{self.unavailable[name]}")
        off = [c for c in self.disabled.get(kind, {}).values() if name in (c.name, c.full_name)]
        if off:
            raise ComponentError(f"{kind} '{name}' comes from plugin '{off[0].plugin}', which is disabled "
                                 f"{self.disabled_plugins.get(off[0].plugin, '')}".rstrip())
        choices = sorted({c.name for c in table.values()} | set(table))
        hint = did_you_mean(name, choices)
        valid = ", ".join(sorted({c.name for c in table.values()})) or "none registered"
        broken = ""
        if self.unavailable:
            broken = " (unusable plugins: " + "; ".join(
                f"{p}: {e}" for p, e in sorted(self.unavailable.items())
            ) + ")"
        install = install_hint(kind, short if sep else name)
        raise ComponentError(f"unknown {kind} '{name}'{install}{hint}; valid choices: {valid}{broken}")

    def load(self, kind: str, name: str) -> Any:
        """Resolve and import a component in one call."""
        return self.resolve(kind, name).load()


def install_hint(kind: str, name: str) -> str:
    """``" (it comes with genloom-vae: pip install genloom-vae)"`` when one of genloom's own
    distributions provides ``kind:name`` (``first_party.json``), else ``""``."""
    import json
    from importlib.resources import files

    try:
        known = json.loads(files("genloom").joinpath("first_party.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    dist = known.get(f"{kind}:{name}") if isinstance(known, dict) else None
    if not isinstance(dist, str):
        return ""
    return f" (it comes with {dist}: pip install {dist.split(' or ')[0]})"


def __getattr__(name: str) -> Any:
    if name == "KINDS":  # its earlier name; "kinds" are also sample kinds
        import warnings

        warnings.warn("genloom.registry.KINDS is now COMPONENT_KINDS; the old name is removed "
                      "in genloom 0.3", DeprecationWarning, stacklevel=2)
        return COMPONENT_KINDS
    raise AttributeError(f"module 'genloom.registry' has no attribute {name!r}")
