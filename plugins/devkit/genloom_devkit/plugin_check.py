"""``genloom plugins check``: find what is wrong with an installed plugin before users do.

Loading a plugin (``genloom plugins``) only proves that its entry module imports and
its hooks register: a misspelled import path in a ``register`` call, a misspelled kind
(``modle``, silently a new kind), a model whose ``default_sampler`` names nothing, or a
torch import at the top of the entry module all pass it. This module checks each of
those and returns one :class:`Problem` per defect, each one line with its fix.

Checks, per plugin:

* it loaded (not ``broken``: import error, unknown or invalid hook, failing hook; not
  ``incompatible``: its ``genloom`` requirement excludes this core);
* it declares a requirement on ``genloom`` (so an incompatible core is detected);
* its entry module imports without torch or lightning and within the import budget
  (measured in a fresh interpreter);
* every component's kind is one the core consumes or some plugin declares through
  ``genloom_component_kinds``;
* every registered target imports;
* every model's ``default_sampler`` resolves to a registered sampler;
* every model class has all the members of each capability it has part of or claims
  (:func:`genloom_devkit.claims.problems`: ``token_nats`` half a ``TokenLikelihood``,
  ``default_sampler = "latent_prior"`` without ``decode_latents``).

Only the last three import anything heavy, and only when asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

from genloom.errors import did_you_mean
from genloom.plugins import CORE_PLUGIN, PluginHost, PluginInfo
from genloom.registry import COMPONENT_KINDS, Component

#: modules an entry module must not import: they cost seconds on every command
HEAVY = ("torch", "lightning", "pytorch_lightning", "lightning_fabric")

# prints the entry module's own import time and which heavy modules it pulled in;
# genloom (and so pluggy) is imported first, since every plugin pays for it anyway
_PROBE = """
import json, sys, time, importlib
import genloom
start = time.perf_counter()
importlib.import_module(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))}))
"""


@dataclass(frozen=True)
class Problem:
    """One defect of one plugin: what is wrong and how to fix it, on one line."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"plugin '{self.plugin}': {self.message}"


@dataclass
class Report:
    """What ``check`` found: the plugins it looked at and their problems."""

    checked: list[str]
    components: int
    problems: list[Problem]


def declared_kinds(host: PluginHost) -> dict[str, str]:
    """Every kind a component may have: the core's, plus those plugins declare."""
    kinds = {k: "core" for k in COMPONENT_KINDS}
    for plugin, declared in host.call_each("genloom_component_kinds"):
        for kind in declared or {}:
            kinds.setdefault(str(kind), plugin)
    return kinds


def _requirement_problem(info: PluginInfo) -> str | None:
    if info.distribution in ("?", "-"):
        return None
    try:
        dist = metadata.distribution(info.distribution)
    except metadata.PackageNotFoundError:
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    for line in dist.requires or []:
        try:
            if Requirement(line).name.lower() == "genloom":
                return None
        except InvalidRequirement:
            continue
    return (
        f"distribution '{info.distribution}' does not require genloom; add "
        "dependencies = [\"genloom>=0.1,<0.2\"] (the core's minor version you tested) to its "
        "pyproject.toml"
    )


def _import_problems(info: PluginInfo, budget: float) -> list[str]:
    """Import the entry module in a fresh interpreter: heavy modules and time."""
    module = info.module.partition(":")[0]
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, module, *HEAVY],
        capture_output=True, text=True, env=env, timeout=120,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"entry module '{module}' fails to import in a fresh interpreter: {last}"]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    out = []
    if result["heavy"]:
        out.append(
            f"entry module '{module}' imports {', '.join(result['heavy'])}, which every genloom "
            "command then pays for; import it inside the component modules and register them "
            "by import path"
        )
    elif result["seconds"] > budget:
        out.append(
            f"entry module '{module}' takes {result['seconds']:.2f} s to import (budget "
            f"{budget:g} s); move heavy imports into the component modules"
        )
    return out


def _component_problems(host: PluginHost, c: Component, kinds: dict[str, str]) -> list[str]:
    out = []
    if c.kind not in kinds:
        out.append(
            f"registers '{c.name}' under kind '{c.kind}'"
            f"{did_you_mean(c.kind, kinds)}, which neither the core nor any plugin declares; "
            "fix the kind, or declare it in a genloom_component_kinds hook"
        )
    try:
        obj = c.load()
    except Exception as exc:  # ComponentError: one line naming the target
        if c.kind == "config":  # a file, not an import: the message says what to fix
            return [*out, str(exc)]
        return [*out, f"{exc}; fix the import path 'package.module:Attribute' in its register call"]
    if c.kind == "model":
        from genloom_devkit.claims import problems

        out += [f"{p}; fix the model class" for p in problems(obj) if isinstance(obj, type)]
        sampler = getattr(obj, "default_sampler", None)
        if sampler:
            try:
                host.registry.resolve("sampler", sampler, prefer=c.plugin)
            except Exception as exc:
                out.append(
                    f"model '{c.name}' has default_sampler '{sampler}', which does not resolve "
                    f"({exc}); set it to a registered sampler (genloom list samplers)"
                )
    return out


def check(names: list[str] | None = None, *, include_core: bool | None = None) -> Report:
    """Check the installed plugins ``names`` (all when empty) and return the report.

    The host is built afresh and never strict, so one broken plugin is reported
    rather than raised. The core's own plugin is checked when named, or when every
    plugin is checked (``include_core`` overrides).
    """
    env = {**os.environ, "GENLOOM_STRICT_PLUGINS": ""}
    host = PluginHost(env).load()
    wanted = list(names or [])
    unknown = [n for n in wanted if n not in host.plugins]
    problems = [
        Problem(n, f"is not installed{did_you_mean(n, host.plugins)}; see 'genloom plugins'")
        for n in unknown
    ]
    if include_core is None:
        include_core = not wanted or CORE_PLUGIN in wanted
    selected = [
        info for name, info in host.plugins.items()
        if (name in wanted if wanted else True) and (include_core or name != CORE_PLUGIN)
    ]
    kinds = declared_kinds(host)
    count = 0
    for info in selected:
        if info.status == "disabled":
            problems.append(Problem(info.name, "is disabled (GENLOOM_PLUGINS / "
                                    "GENLOOM_DISABLE_PLUGINS); enable it to check it"))
            continue
        if info.status in ("broken", "incompatible"):
            fix = ("install a genloom inside its range, or widen the plugin's requirement "
                   "after testing it" if info.status == "incompatible"
                   else "fix the entry module or its hooks")
            problems.append(Problem(info.name, f"is {info.status}: {info.error}; {fix}"))
        if info.name != CORE_PLUGIN:
            req = _requirement_problem(info)
            if req:
                problems.append(Problem(info.name, req))
            if info.status == "ok":
                problems += [Problem(info.name, m) for m in _import_problems(info, host.import_budget)]
        for c in host.registry.by_plugin(info.name):
            count += 1
            problems += [Problem(info.name, m) for m in _component_problems(host, c, kinds)]
    return Report([i.name for i in selected], count, problems)
