"""Write ``core/genloom/first_party.json``: which of genloom's own distributions
provides each component and command, so that an unknown name that one of them would
provide says what to install (``unknown model 'vae' ... pip install genloom-vae``,
``no command 'serve' ... pip install genloom-serve``).

Read from each in-repo plugin's component table (``GENLOOM_COMPONENTS``), as data;
``tests/test_registry.py`` fails when the committed file is stale. Run after adding or
renaming a component: ``.venv/bin/python scripts/first_party.py``.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "core" / "genloom" / "first_party.json"


def commands(module: str) -> list[str]:
    """The commands a plugin module adds through ``genloom_register_commands``: ``serve``,
    or ``plugins check`` for a subcommand of the core's ``plugins`` group."""
    import importlib

    import click

    hook = getattr(importlib.import_module(module), "genloom_register_commands", None)
    if hook is None:
        return []
    cli = click.Group("genloom")
    cli.add_command(click.Group("plugins"))
    hook(cli=cli)
    names = [n for n in cli.commands if n != "plugins"]
    return names + [f"plugins {n}" for n in cli.commands["plugins"].commands]


def table() -> dict[str, str]:
    """``{"kind:name": distribution}`` for every in-repo plugin and example plugin, and
    ``{"command:name": distribution}`` for the commands they add."""
    sys.path[:0] = [str(p.parent) for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))]
    from genloom.plugins import read_component_table

    found: dict[str, list[str]] = {}
    for pyproject in sorted([*ROOT.glob("plugins/*/pyproject.toml"),
                             *ROOT.glob("examples/*-plugin/pyproject.toml")]):
        meta = tomllib.loads(pyproject.read_text())["project"]
        for module in meta.get("entry-points", {}).get("genloom", {}).values():
            sys.path.insert(0, str(pyproject.parent))
            keys = [f"{kind}:{name}" for kind, name, _target, _help in read_component_table(module) or []]
            for key in keys + [f"command:{name}" for name in commands(module)]:
                dists = found.setdefault(key, [])
                if meta["name"] not in dists:
                    dists.append(meta["name"])
    return {k: " or ".join(sorted(v)) for k, v in sorted(found.items())}


def render() -> str:
    return json.dumps(table(), indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT} ({len(table())} components)")
