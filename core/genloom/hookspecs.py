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
    """Register the components this plugin provides.

    Called once per plugin, right after discovery, for every command (including
    ``genloom --help``), so it must not import heavy modules.

    Args:
        register: call ``register(kind, name, "package.module:Attr", help="...")`` once
            per component. ``kind`` is one of ``model``, ``encoder``, ``generator``,
            ``denoiser``, ``sampler``, ``dataset``, ``metric``, ``tokenizer`` (or a new
            kind another plugin consumes). ``name`` is the short name; the full name is
            ``plugin:name``. The target is imported only when the component is used.

    Returns nothing; collects from every plugin (not firstresult). Registering the
    same name twice in one plugin is an error; the same short name in two plugins is
    allowed: the full names always resolve, the short name resolves to the owner's
    own inside a section whose component comes from one of those plugins, and is
    ambiguous (an error listing the full names) anywhere else.
    """


@hookspec
def genloom_register_commands(cli: click.Group) -> None:
    """Add commands to the ``genloom`` command line.

    Called when the CLI starts, after components are registered. Use
    ``@cli.command()`` to add a click command. Keep imports inside the command body so
    ``genloom --help`` stays fast. A command may not replace an existing one (a
    built-in such as ``train``, or another plugin's): it is dropped with a warning.
    If this hook raises, the whole plugin is removed (its commands, components and
    hooks) and shown as broken.

    Args:
        cli: the top-level click group.

    Returns nothing; collects from every plugin (not firstresult).
    """


@hookspec
def genloom_callbacks(config: Any) -> list[Any] | None:
    """Lightning callbacks to add to every training run.

    Called by ``genloom.training`` when it builds the Trainer, after the core's own
    callbacks (checkpoints, sample grids, progress bar) are made.

    Args:
        config: the resolved run configuration (an OmegaConf DictConfig, read-only).

    Returns a list of ``lightning.Callback`` instances, or None. Results from all
    plugins are concatenated (not firstresult). The callbacks receive the core's
    ``genloom.lightning_module.TrainingModule`` as ``pl_module``; the genloom model
    is ``pl_module.model``.
    """


@hookspec
def genloom_trainer_kwargs(config: Any, kwargs: dict[str, Any]) -> None:
    """Adjust the keyword arguments passed to ``lightning.Trainer``.

    Called after the ``trainer`` section of the config and the core's defaults are
    merged into ``kwargs``, just before the Trainer is built. Mutate ``kwargs`` in
    place (e.g. set a strategy or a plugin-specific precision).

    Args:
        config: the resolved run configuration (read-only).
        kwargs: the Trainer arguments; changes are seen by later plugins.

    Returns nothing (not firstresult).
    """


@hookspec
def genloom_component_kinds() -> dict[str, str] | None:
    """Declare the new component kinds this plugin consumes (beyond the core's).

    A plugin that reads components of a kind of its own (a GAN's ``discriminator``,
    diffusion's ``noise_schedule``) declares it here, so that ``genloom plugins check``
    can tell a new kind from a misspelled one (``modle``): a component of a kind that
    neither the core nor any plugin declares is reported.

    Returns a mapping ``{kind: one-line description}``, or None. Results from all
    plugins are merged (not firstresult).
    """
