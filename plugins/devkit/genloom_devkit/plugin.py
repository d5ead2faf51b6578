"""Entry point of the developer kit: adds ``genloom new-plugin`` and ``genloom plugins check``.

The kit adds its commands through ``genloom_register_commands``, the hook any third
party uses. genloom imports this module for every command, so it imports only click:
the command bodies import the scaffold and the checks when they run (and never torch).
"""

from __future__ import annotations

import click

from genloom import hookimpl

#: the kinds of component ``genloom new-plugin --kind`` writes (scaffold.TEMPLATES, kept
#: here as names so that ``--help`` imports nothing)
KIND_NAMES = ("model", "denoiser", "encoder", "generator", "sampler", "dataset", "metric")


@click.command("check")
@click.argument("names", nargs=-1, metavar="[NAME]...")
def plugins_check(names: tuple[str, ...]) -> None:
    """Check installed plugins (all, or each NAME) for defects users would hit.

    \b
    Imports every registered target; rejects kinds neither the core nor a plugin
    declares (a misspelled 'modle'); checks hook names, that the entry module
    imports without torch and within the import budget, the plugin's genloom
    requirement, and that each model's default_sampler resolves. Prints one line
    per problem with its fix and exits 2 on any; exits 0 with a summary otherwise.
    """
    from genloom_devkit.cli_plugins_check import run_check

    run_check(list(names))


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder to write genloom-NAME/ into.")
@click.option("--kind", default="model", show_default=True, type=click.Choice(KIND_NAMES),
              help="What the plugin provides.")
def new_plugin(name: str, directory: str, kind: str) -> None:
    """Write a new plugin distribution genloom-NAME providing one component of KIND.

    \b
    It holds a pyproject with the entry point and a compatible genloom range, an
    import-light plugin module, a working component, an example config shipped in
    the package (registered as config NAME), tests that use the devkit's pytest
    plugin, and a README. Then:
      cd genloom-NAME && pip install -e '.[dev]' && genloom plugins check NAME && pytest tests
    """
    from genloom_devkit.scaffold import new_plugin as write

    root = write(name, kind, directory)
    click.echo(f"wrote {root}/ ({kind} '{name}:{name}'); next:")
    click.echo(f"  cd {root} && pip install -e '.[dev]' && genloom plugins check {name} && pytest tests")
    click.echo(f"  genloom train {name}")


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    cli.add_command(new_plugin)
    plugins = cli.commands.get("plugins")
    if isinstance(plugins, click.Group):  # the core's group: 'check' is a subcommand of it
        plugins.add_command(plugins_check)
