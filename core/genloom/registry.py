"""Named components, resolved lazily.

Plugins register components by import path (``"pkg.module:Attr"``); nothing is imported
until a config or a command asks for it. A component's full name is
``plugin:name``; its short name works while only one plugin uses it. Nothing is
silently overridden: a clash makes the short name ambiguous, and resolving it is an
error that lists the full names to choose from.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from genloom.errors import ComponentError, did_you_mean
from genloom.moved import MOVED_COMPONENTS

#: The kinds the core itself consumes. Plugins may register other kinds.
KINDS = (
    "model", "encoder", "generator", "denoiser", "sampler", "dataset", "metric", "tokenizer",
    "sample_kind", "config", "quantizer",
)


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
        """Import and return the target object; errors name the component and its plugin.

        A ``config`` component's target is a file inside a package
        (``"genloom_gan:configs/gan-digits.yaml"``): its path is returned, never imported.
        """
        if self.kind == "config":
            from genloom.example_configs import packaged_file

            return packaged_file(self)
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except Exception as exc:  # a plugin's import error becomes a user-facing line
            raise ComponentError(
                f"{self.kind} '{self.full_name}' could not be loaded from {self.target}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return obj


class Registry:
    """All components of all loaded plugins, by kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {}
        #: plugin name -> the one-line error that made it unusable
        self.unavailable: dict[str, str] = {}

    def add(self, component: Component) -> None:
        """Add a component; the same full name twice is an error."""
        if ":" in component.name or not component.name:
            raise ComponentError(
                f"plugin '{component.plugin}' registered a {component.kind} named "
                f"'{component.name}'; names must be non-empty and contain no ':'"
            )
        if ":" not in component.target:
            raise ComponentError(
                f"plugin '{component.plugin}' registered {component.kind} '{component.name}' "
                f"with target '{component.target}'; use the form 'package.module:Attribute'"
            )
        table = self._by_kind.setdefault(component.kind, {})
        if component.full_name in table:
            raise ComponentError(
                f"plugin '{component.plugin}' registered {component.kind} "
                f"'{component.name}' twice"
            )
        table[component.full_name] = component

    def remove(self, component: Component) -> None:
        """Forget ``component`` (used to roll back a plugin that failed half-way)."""
        self._by_kind.get(component.kind, {}).pop(component.full_name, None)

    def kinds(self) -> list[str]:
        return sorted(set(self._by_kind) | set(KINDS))

    def components(self, kind: str | None = None) -> list[Component]:
        """Every component, or every component of one kind, sorted by full name."""
        kinds = [kind] if kind else sorted(self._by_kind)
        out = [c for k in kinds for c in self._by_kind.get(k, {}).values()]
        return sorted(out, key=lambda c: (c.kind, c.full_name))

    def by_plugin(self, plugin: str) -> list[Component]:
        return [c for c in self.components() if c.plugin == plugin]

    def resolve(self, kind: str, name: str, prefer: str | None = None) -> Component:
        """Find a component by full or short name, or raise a ComponentError that helps.

        A short name that several plugins provide is ambiguous, unless one of them is
        ``prefer`` (the plugin of the component whose config names it): inside
        ``model: {name: vae, decoder: {name: mlp}}`` ``mlp`` means the VAE's own.
        """
        table = self._by_kind.get(kind, {})
        if name in table:
            return table[name]
        if MOVED_COMPONENTS.get(name) in table:  # a saved full name from before a move
            return table[MOVED_COMPONENTS[name]]
        plugin, sep, short = name.rpartition(":")
        if sep and plugin in self.unavailable:
            raise ComponentError(
                f"{kind} '{name}' comes from plugin '{plugin}', which is unusable: "
                f"{self.unavailable[plugin]}"
            )
        matches = [c for c in table.values() if c.name == (short if sep else name)]
        if not sep and len(matches) == 1:
            return matches[0]
        own = [c for c in matches if c.plugin == prefer]
        if not sep and len(matches) > 1 and len(own) == 1:
            return own[0]
        if not sep and len(matches) > 1:
            options = ", ".join(sorted(c.full_name for c in matches))
            raise ComponentError(
                f"{kind} name '{name}' is ambiguous: it is provided by several plugins; "
                f"use one of the full names {options}"
            )
        if name in self.unavailable:
            raise ComponentError(
                f"{kind} '{name}' may come from plugin '{name}', which is unusable: "
                f"{self.unavailable[name]}"
            )
        choices = sorted({c.name for c in table.values()} | set(table))
        hint = did_you_mean(name, choices)
        valid = ", ".join(sorted({c.name for c in table.values()})) or "none registered"
        broken = ""
        if self.unavailable:
            broken = " (unusable plugins: " + "; ".join(
                f"{p}: {e}" for p, e in sorted(self.unavailable.items())
            ) + ")"
        raise ComponentError(f"unknown {kind} '{name}'{hint}; valid choices: {valid}{broken}")

    def load(self, kind: str, name: str) -> Any:
        """Resolve and import a component in one call."""
        return self.resolve(kind, name).load()
