"""The plugin contract: every hook a genloom plugin may implement.

A plugin is a module named by a ``genloom`` entry point, with functions decorated by
:data:`genloom.hookimpl` named after the hooks below. It must be cheap to import (no
torch, no lightning): components are registered by import path and imported when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

hookspec = pluggy.HookspecMarker("genloom")


class Register(Protocol):
    """The callable handed to :func:`genloom_register_components`."""

    def __call__(self, kind: str, name: str, target: str, *, help: str = "") -> None: ...


@hookspec
def genloom_register_components(register: Register) -> None:
    """Register the components this plugin computes (a ``GENLOOM_COMPONENTS`` table is read
    as data instead). Called once per plugin for every command, ``--help`` included, so it
    must not import heavy modules.

    Args:
        register: call ``register(kind, name, "package.module:Attr", help="...")`` once
            per component; ``kind`` is one of ``genloom.registry.COMPONENT_KINDS`` or a
            kind another plugin consumes. The full name is ``plugin:name``.

    The same name twice in one plugin is an error; a short name two plugins share
    resolves to the owner's own inside its sections and is ambiguous elsewhere.
    """


@hookspec
def genloom_register_commands(cli: click.Group) -> None:
    """Add commands to the ``genloom`` command line with ``@cli.command()``, importing inside
    the command body so ``genloom --help`` stays fast. A command may not replace an existing
    one (it is dropped with a warning); if this hook raises, the whole plugin is removed
    and shown as broken.

    Args:
        cli: the top-level click group.
    """


@hookspec
def genloom_callbacks(config: Any) -> list[Any] | None:
    """Lightning callbacks to add to every training run, after the core's own.

    Args:
        config: the resolved run configuration (an OmegaConf DictConfig, read-only).

    Returns a list of ``lightning.Callback`` instances, or None; all plugins' are added.
    ``pl_module`` is the core's ``TrainingModule``; the genloom model is ``pl_module.model``.
    """


@hookspec
def genloom_trainer_kwargs(config: Any, kwargs: dict[str, Any]) -> None:
    """Adjust, in place, the keyword arguments of ``lightning.Trainer`` just before it is
    built (the config's ``trainer`` section and the core's defaults already merged).

    Args:
        config: the resolved run configuration (read-only).
        kwargs: the Trainer arguments; changes are seen by later plugins.
    """


@hookspec
def genloom_component_kinds() -> dict[str, str] | None:
    """Declare the component kinds this plugin consumes beyond the core's (a GAN's
    ``discriminator``), so ``genloom plugins check`` tells a new kind from a misspelled one.

    Returns ``{kind: one-line description}``, or None; all plugins' are merged.
    """
