"""Plugin discovery, isolation and status, on pluggy and the ``genloom`` entry points.

Each plugin loads on its own: one that fails to import or register (any
``BaseException`` but the user's Ctrl-C) is marked ``broken``, its prints are kept out of
the command's output, and one whose ``genloom`` requirement excludes this core is not
imported (``incompatible``). ``GENLOOM_STRICT_PLUGINS=1`` makes failures fatal;
``GENLOOM_PLUGINS`` allows and ``GENLOOM_DISABLE_PLUGINS`` blocks. No torch, no lightning.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.machinery
import importlib.util
import io
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from genloom import __version__, hookspecs
from genloom.errors import PluginError, did_you_mean
from genloom.registry import CORE_PLUGIN, Component, Registry

HOOK_NAMES = sorted(n for n in dir(hookspecs) if n.startswith("genloom_"))
#: what a plugin may raise that must not take every command down with it: anything
#: (``sys.exit``, ``GeneratorExit``, a ``BaseException`` of its own, and a
#: ``KeyboardInterrupt`` the user did not cause) is the plugin's failure, not the user's
PLUGIN_FAILURES = (BaseException,)
#: the name of the component table in a plugin's entry module (registration as data)
TABLE = "GENLOOM_COMPONENTS"
#: characters of a plugin's stray stdout output quoted in its note
PRINTED_CHARS = 60
#: seconds an entry module may take to import before ``genloom plugins`` and every
#: command warn about it (``GENLOOM_PLUGIN_IMPORT_BUDGET`` overrides)
IMPORT_BUDGET_SECONDS = 0.5


@dataclass
class PluginInfo:
    """What ``genloom plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "ok"  # ok | broken | incompatible | disabled
    error: str | None = None
    import_seconds: float = 0.0
    components: list[str] = field(default_factory=list)
    #: a warning that does not make the plugin unusable (a slow import)
    note: str | None = None

    def add_note(self, note: str) -> None:
        if not self.note:
            self.note = note
        elif note not in self.note:
            self.note = f"{self.note}; {note}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "import_seconds": round(self.import_seconds, 4)}


_SIGINTS = 0  # Ctrl-Cs the user pressed in this process, once watch_user_interrupts() ran
_WATCHING = False


def _on_sigint(previous: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        global _SIGINTS
        _SIGINTS += 1
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    return handler


def watch_user_interrupts() -> None:
    """Count the user's Ctrl-Cs from now on (chaining to the handler in place), so that a
    ``KeyboardInterrupt`` a plugin raises is told apart from the user's; main thread only
    (elsewhere every KeyboardInterrupt counts as the user's)."""
    global _WATCHING
    if _WATCHING or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
        if previous is None:  # installed from C: leave it alone
            return
        signal.signal(signal.SIGINT, _on_sigint(previous))
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        return
    _WATCHING = True


def user_interrupts() -> int:
    """How many times the user pressed Ctrl-C so far (compare two readings)."""
    return _SIGINTS if _WATCHING else -1


def is_plugin_failure(exc: BaseException, interrupts_before: int) -> bool:
    """Whether ``exc``, raised by plugin code, is the plugin's failure: anything but a
    KeyboardInterrupt the user's Ctrl-C caused since ``interrupts_before``."""
    if not isinstance(exc, KeyboardInterrupt):
        return True
    now = user_interrupts()
    return now >= 0 and now == interrupts_before


@contextlib.contextmanager
def _capture_stdout(info: PluginInfo) -> Iterator[None]:
    """Keep what plugin code prints off stdout (``--json``, streamed text); note it."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        if text:
            shown = text if len(text) <= PRINTED_CHARS else text[:PRINTED_CHARS] + "..."
            info.add_note(
                f"printed {len(text)} characters to stdout while loading ({shown!r}); "
                "they were not shown (a plugin prints nothing at import)"
            )


def _module_file(module: str) -> Path | None:
    """The source file of ``module``, found without importing it or its packages."""
    parts = module.split(".")
    path: list[str] | None = None
    spec = None
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if i == 0:  # a top-level module: found by the import system, not imported
            spec = importlib.util.find_spec(name)
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or [])
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def read_component_table(module: str) -> list[tuple[str, str, str, str]] | None:
    """The literal dict ``GENLOOM_COMPONENTS`` of entry module ``module``
    (``{"kind:name": ("package.module:Attr", "help") or target}``), read from its source
    without running it, as ``(kind, name, target, help)`` rows; None when it has none.
    Raises ValueError saying what is wrong with a table of another shape.
    """
    file = _module_file(module)
    if file is None or not file.is_file():
        return None
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    except (OSError, SyntaxError, ValueError):
        return None  # importing it will say what is wrong
    node = None
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == TABLE for t in targets):
            node = stmt.value
    if node is None:
        return None
    try:
        table = ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{TABLE} must be a literal dict (data, read without running the module); "
                         "compute components in genloom_register_components instead") from None
    if not isinstance(table, dict):
        raise ValueError(f"{TABLE} must be a dict of 'kind:name' -> target or (target, help)")
    rows = []
    for key, value in table.items():
        kind, sep, name = str(key).partition(":")
        if isinstance(value, str):
            value = (value, "")
        ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) for v in value)
        if not sep or not kind or not ok:
            raise ValueError(f"{TABLE} entry {key!r}: {value!r} is not 'kind:name': 'package.module:Attr' "
                             "or ('package.module:Attr', 'help')")
        rows.append((kind, name, value[0], value[1]))
    return rows


def _env_list(env: Mapping[str, str], key: str) -> set[str] | None:
    if key not in env:
        return None
    return {p.strip() for p in env[key].split(",") if p.strip()}


def _incompatibility(dist: metadata.Distribution | None) -> str | None:
    """Why ``dist`` cannot run on this core, or None when its requirement admits it."""
    if dist is None:
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name.lower() != "genloom":
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if not req.specifier.contains(__version__, prereleases=True):
            return f"requires genloom{req.specifier}, installed genloom is {__version__}"
    return None


def _load_order(ep: metadata.EntryPoint) -> tuple[str, bool, str]:
    """Entry points by plugin name, ``genloom-<name>`` first among distributions claiming
    one name, so a stray distribution cannot displace a plugin by being found earlier."""
    dist = getattr(ep, "dist", None)
    dist_name = (dist.metadata["Name"] or "") if dist else ""
    canonical = dist_name.lower().replace("_", "-") == f"genloom-{ep.name}".lower()
    return ep.name, not canonical, dist_name.lower()


class PluginHost:
    """A pluggy PluginManager plus the registry and status of every plugin."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.strict = self.env.get("GENLOOM_STRICT_PLUGINS", "").lower() not in ("", "0", "false", "no", "off")
        try:
            self.import_budget = float(self.env.get("GENLOOM_PLUGIN_IMPORT_BUDGET", IMPORT_BUDGET_SECONDS))
        except ValueError:
            self.import_budget = IMPORT_BUDGET_SECONDS
        self.pm = pluggy.PluginManager("genloom")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}
        #: one line per plugin failure, for the CLI to print to stderr
        self.warnings: list[str] = []

    # -- loading -----------------------------------------------------------------

    def load(self) -> PluginHost:
        """Register the core's built-ins, then every installed plugin."""
        from genloom import builtins

        watch_user_interrupts()
        core = PluginInfo(CORE_PLUGIN, "genloom", __version__, builtins.__name__)
        self._add(core, builtins)
        allow = _env_list(self.env, "GENLOOM_PLUGINS")
        block = _env_list(self.env, "GENLOOM_DISABLE_PLUGINS") or set()
        for ep in sorted(metadata.entry_points(group="genloom"), key=_load_order):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, dist.metadata["Name"] if dist else "?", dist.version if dist else "?",
                              ep.value)
            if ep.name in self.plugins:
                other = self.plugins[ep.name]
                self._fail(
                    PluginInfo(**{**info.__dict__, "name": f"{ep.name} ({info.distribution})"}),
                    f"plugin name '{ep.name}' is already used by distribution "
                    f"'{other.distribution}', which keeps it; uninstall one of them",
                )
                other.note = f"distribution '{info.distribution}' also declares a plugin named '{ep.name}'; " \
                    "it was not loaded"
                continue
            if (allow is not None and ep.name not in allow) or ep.name in block:
                info.status = "disabled"
                self.plugins[ep.name] = info
                self._remember_disabled(ep, "GENLOOM_DISABLE_PLUGINS" if ep.name in block else "GENLOOM_PLUGINS")
                continue
            reason = _incompatibility(dist)
            if reason:
                self._fail(info, reason, status="incompatible")
                continue
            start, interrupts = time.perf_counter(), user_interrupts()
            try:
                with _capture_stdout(info):
                    module = ep.load()
            except PLUGIN_FAILURES as exc:
                if not is_plugin_failure(exc, interrupts):
                    raise  # the user's own Ctrl-C
                info.import_seconds = time.perf_counter() - start
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
                continue
            info.import_seconds = time.perf_counter() - start
            if info.import_seconds > self.import_budget:
                note = (f"slow import: {info.import_seconds:.2f} s (budget {self.import_budget:g} s); "
                        "keep the entry module import-light (no torch, register import paths)")
                info.add_note(note)
                self.warnings.append(f"plugin '{info.name}': {note}")
            self._add(info, module, ep.module)
        return self

    def _remember_disabled(self, ep: metadata.EntryPoint, variable: str) -> None:
        """Read a disabled plugin's table (as data), so naming its components says it is disabled."""
        self.registry.disabled_plugins[ep.name] = f"by {variable}"
        try:
            rows = read_component_table(ep.module) or []
        except (ValueError, ImportError, OSError):
            return
        for kind, name, target, help_ in rows:
            component = Component(kind, name, ep.name, target, help_)
            self.registry.disabled.setdefault(kind, {})[component.full_name] = component

    def _add(self, info: PluginInfo, module: ModuleType, module_name: str | None = None) -> None:
        """Validate and register one plugin (its table, then its register hook), all or nothing."""
        unknown = [a for a in dir(module) if self.pm.parse_hookimpl_opts(module, a) is not None
                   and a not in HOOK_NAMES]
        if unknown:
            hook = unknown[0]
            self._fail(info, f"unknown hook '{hook}'{did_you_mean(hook, HOOK_NAMES)}")
            return
        wrappers = [a for a in HOOK_NAMES if (opts := self.pm.parse_hookimpl_opts(module, a))
                    and (opts.get("hookwrapper") or opts.get("wrapper"))]
        if wrappers:
            self._fail(info, f"hook '{wrappers[0]}' is a wrapper (hookwrapper=True or wrapper=True), "
                       "which genloom does not support: it calls each plugin's hook on its own; use a "
                       "plain @hookimpl")
            return
        try:
            table = read_component_table(module_name or module.__name__)
        except ValueError as exc:
            self._fail(info, f"component table: {exc}")
            return
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:  # pluggy.PluginValidationError: bad signature
            self._fail(info, f"invalid hook implementation: {exc}")
            return
        staged = [Component(k, n, info.name, t, h) for k, n, t, h in table or []]

        def register(kind: str, name: str, target: str, *, help: str = "") -> None:
            staged.append(Component(kind, name, info.name, target, help))

        interrupts = user_interrupts()
        try:
            with _capture_stdout(info):
                for impl in self.pm.hook.genloom_register_components.get_hookimpls():
                    if impl.plugin is module:
                        impl.function(register=register)
            for component in staged:
                self.registry.add(component)
        except PLUGIN_FAILURES as exc:
            if not is_plugin_failure(exc, interrupts):
                raise
            for component in staged:  # no half-registered plugin
                self.registry.remove(component)
            self.pm.unregister(module)
            self._fail(info, f"registering components failed: {type(exc).__name__}: {exc}")
            return
        info.components = [f"{c.kind}:{c.name}" for c in staged]
        self.plugins[info.name] = info

    def _fail(self, info: PluginInfo, error: str, status: str = "broken") -> None:
        info.status, info.error = status, error
        self.plugins[info.name] = info
        self.registry.unavailable[info.name] = error
        line = f"plugin '{info.name}' is {status}: {error}"
        if self.strict:
            raise PluginError(line + " (GENLOOM_STRICT_PLUGINS is set)")
        self.warnings.append(line)

    # -- calling hooks -----------------------------------------------------------

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin that implements it, core first; a plugin that raises
        becomes a PluginError naming it and the hook, not a traceback from deep in the core."""
        caller = getattr(self.pm.hook, hook)
        results = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy keeps LIFO order
            interrupts = user_interrupts()
            try:
                # pluggy lets an implementation take a subset of the spec's arguments
                args = {k: v for k, v in kwargs.items() if k in impl.argnames}
                results.append((impl.plugin_name, impl.function(**args)))
            except PluginError:
                raise
            except PLUGIN_FAILURES as exc:
                if not is_plugin_failure(exc, interrupts):
                    raise
                raise PluginError(
                    f"plugin '{impl.plugin_name}' failed in {hook}: {type(exc).__name__}: {exc}"
                ) from exc
        return results

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its CLI commands. One whose hook fails is removed whole and
        marked broken; one that registers a name already taken keeps the original, with a warning."""
        for impl in reversed(self.pm.hook.genloom_register_commands.get_hookimpls()):
            before = dict(cli.commands)
            interrupts = user_interrupts()
            info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "?", "?", "?")
            try:
                with _capture_stdout(info):
                    impl.function(cli=cli)
            except PLUGIN_FAILURES as exc:
                if not is_plugin_failure(exc, interrupts):
                    raise
                cli.commands.clear()
                cli.commands.update(before)
                self._remove(impl.plugin_name)
                info = self.plugins[impl.plugin_name]
                self._fail(info, f"adding commands failed: {type(exc).__name__}: {exc}")
                continue
            for name, command in list(cli.commands.items()):
                owner = getattr(before.get(name), "genloom_plugin", CORE_PLUGIN)
                if name in before and command is not before[name] and owner == impl.plugin_name:
                    # the same plugin adding its command again (main() called twice in one
                    # process, as tests do): the new object replaces its own old one
                    command.genloom_plugin = impl.plugin_name
                elif name in before and command is not before[name]:
                    cli.commands[name] = before[name]
                    self.warnings.append(
                        f"plugin '{impl.plugin_name}' tried to replace the command '{name}' "
                        f"of '{owner}'; kept the original (rename the plugin's command)"
                    )
                elif name not in before:
                    command.genloom_plugin = impl.plugin_name

    def _remove(self, plugin: str) -> None:
        """Unregister a plugin's hooks and forget its components (it failed half-way)."""
        for component in self.registry.by_plugin(plugin):
            self.registry.remove(component)
        module = self.pm.get_plugin(plugin)
        if module is not None:
            self.pm.unregister(module)
        if plugin in self.plugins:
            self.plugins[plugin].components = []

    def versions(self) -> dict[str, str]:
        """name -> version of every loaded plugin, recorded in checkpoints."""
        return {n: p.version for n, p in self.plugins.items() if p.status == "ok"}


_HOST: PluginHost | None = None


def get_plugin_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost().load()
    return _HOST


def get_registry() -> Registry:
    """The process-wide component registry (loads plugins on first use)."""
    return get_plugin_host().registry


LOCAL_PLUGIN = "local"


def register(kind: str, name: str, obj: Any, *, help: str = "") -> str:
    """Register a class defined in a script or notebook as component ``local:name``.

    After ``register("model", "mine", MyModel)`` a config may say ``model: {name: mine}``.
    The registration lives in this process only: a checkpoint of it loads (``genloom.load``)
    where the class is registered again, never in a fresh ``genloom sample`` (a checkpoint
    naming an import path is not trusted to import it). Returns the full name.
    """
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname:
        raise PluginError(f"cannot register {obj!r}: define it at the top level of a module or notebook")
    component = Component(kind, name, LOCAL_PLUGIN, f"{module}:{qualname}", help)
    host = get_plugin_host()
    host.registry.add(component)
    if LOCAL_PLUGIN not in host.plugins:
        host.plugins[LOCAL_PLUGIN] = PluginInfo(LOCAL_PLUGIN, "-", "-", "registered in-process")
    host.plugins[LOCAL_PLUGIN].components.append(f"{kind}:{name}")
    return component.full_name


def reset_plugins(host: PluginHost | None = None) -> None:
    """Forget the loaded plugins (tests), or install ``host`` as the current one."""
    global _HOST
    _HOST = host

