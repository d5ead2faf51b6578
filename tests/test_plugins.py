"""Plugin discovery and isolation, with throwaway plugin distributions on sys.path."""

import os
from pathlib import Path

import pytest

from genloom_devkit.testing import run_cli_in_process
from support import make_plugin
from genloom.errors import PluginError
from genloom.plugins import PluginHost

GOOD = """
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    register("model", "vae", "gltest_target:Model", help="a clashing model")
    register("sampler", "odd", "gltest_target:Sampler")
"""


def load(**env):
    return PluginHost(env={**os.environ, **env}).load()


def test_installed_plugins_load(plugin_dir):
    make_plugin(plugin_dir, "good", GOOD)
    host = load()
    assert host.plugins["good"].status == "ok"
    assert host.plugins["vae"].status == "ok"  # the in-repo plugin
    assert "sampler:odd" in host.plugins["good"].components
    assert host.registry.resolve("sampler", "odd").full_name == "good:odd"


def test_clashing_name_makes_short_name_ambiguous(plugin_dir):
    make_plugin(plugin_dir, "good", GOOD)
    host = load()
    with pytest.raises(Exception, match="ambiguous.*good:vae.*vae:vae"):
        host.registry.resolve("model", "vae")
    assert host.registry.resolve("model", "vae:vae").plugin == "vae"


def test_a_packaged_recipe_means_its_own_plugins_model(plugin_dir, tmp_path):
    """Another plugin's model called 'vae' does not break the VAE's own recipe, by name or
    by its file; a config file of the user's own that says 'vae' is still ambiguous."""
    from genloom.config import config_file, load_config

    make_plugin(plugin_dir, "good", GOOD)
    registry = load().registry
    cfg = load_config("vae-digits", registry=registry, check_trainer=False)
    assert cfg.model.name == "vae:vae" and cfg.data.name == "genloom:digits"
    recipe = config_file("vae-digits", registry)
    assert load_config(recipe, registry=registry, check_trainer=False).model.name == "vae:vae"
    own = tmp_path / "my-vae.yaml"
    own.write_text(recipe.read_text())
    with pytest.raises(Exception, match="ambiguous.*good:vae.*vae:vae"):
        load_config(own, registry=registry, check_trainer=False)


def test_plugin_raising_on_import_is_isolated(plugin_dir):
    make_plugin(plugin_dir, "boom", "raise RuntimeError('kaboom at import')\n")
    host = load()
    info = host.plugins["boom"]
    assert info.status == "broken"
    assert "RuntimeError: kaboom at import" in info.error
    assert host.plugins["vae"].status == "ok"
    assert any("boom" in w and "kaboom" in w for w in host.warnings)
    with pytest.raises(Exception, match="kaboom at import"):
        host.registry.resolve("model", "boom:thing")


def test_misspelled_hook_is_broken_with_suggestion(plugin_dir):
    make_plugin(plugin_dir, "typo", """
from genloom import hookimpl

@hookimpl
def genloom_register_component(register):
    register("model", "never", "x:y")
""")
    host = load()
    info = host.plugins["typo"]
    assert info.status == "broken"
    assert "unknown hook 'genloom_register_component'" in info.error
    assert "did you mean 'genloom_register_components'" in info.error
    host.pm.check_pending()  # nothing unknown is left registered


def test_bad_hook_signature_is_broken(plugin_dir):
    make_plugin(plugin_dir, "badsig", """
from genloom import hookimpl

@hookimpl
def genloom_register_components(register, extra_argument):
    pass
""")
    info = load().plugins["badsig"]
    assert info.status == "broken" and "extra_argument" in info.error


def test_plugin_raising_while_registering_registers_nothing(plugin_dir):
    make_plugin(plugin_dir, "half", """
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    register("model", "first", "x:y")
    raise ValueError("second one failed")
""")
    host = load()
    assert host.plugins["half"].status == "broken"
    assert not host.registry.by_plugin("half")


def test_incompatible_requirement_is_not_imported(plugin_dir):
    make_plugin(plugin_dir, "future", "raise AssertionError('must not be imported')\n",
                requires="genloom>=99")
    info = load().plugins["future"]
    assert info.status == "incompatible"
    assert "requires genloom>=99" in info.error


def test_allowlist_and_blocklist(plugin_dir):
    make_plugin(plugin_dir, "good", GOOD)
    host = load(GENLOOM_PLUGINS="good")
    assert host.plugins["good"].status == "ok" and host.plugins["vae"].status == "disabled"
    host = load(GENLOOM_PLUGINS="")
    assert all(p.status == "disabled" for n, p in host.plugins.items() if n != "genloom")
    host = load(GENLOOM_DISABLE_PLUGINS="good")
    assert host.plugins["good"].status == "disabled" and host.plugins["vae"].status == "ok"
    assert host.registry.resolve("model", "vae").plugin == "vae"  # no clash once disabled


def test_strict_mode_turns_failures_into_errors(plugin_dir):
    make_plugin(plugin_dir, "boom", "raise RuntimeError('kaboom')\n")
    with pytest.raises(PluginError, match="boom.*kaboom"):
        load(GENLOOM_STRICT_PLUGINS="1")


def test_hook_failure_at_call_time_names_the_plugin(plugin_dir):
    make_plugin(plugin_dir, "cbfail", """
from genloom import hookimpl

@hookimpl
def genloom_callbacks(config):
    raise KeyError("no such thing")
""")
    host = load()
    with pytest.raises(PluginError, match="plugin 'cbfail' failed in genloom_callbacks"):
        host.call_each("genloom_callbacks", config=None)


def test_every_command_works_with_a_broken_plugin(plugin_dir, cli):
    make_plugin(plugin_dir, "boom", "raise RuntimeError('kaboom')\n")
    for args in (["--help"], ["list", "models"], ["plugins"]):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert "plugin 'boom' is broken" in result.stderr
        assert "Traceback" not in result.stderr
    assert "broken" in cli("plugins").stdout
    strict = cli("list", env={"GENLOOM_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2 and "kaboom" in strict.stderr and "Traceback" not in strict.stderr


def test_plugin_commands_are_added(plugin_dir, cli):
    make_plugin(plugin_dir, "hello", """
import click
from genloom import hookimpl

@hookimpl
def genloom_register_commands(cli):
    @cli.command()
    def hello():
        "Say hello."
        click.echo("hello from a plugin")
""")
    result = cli("hello")
    assert result.returncode == 0 and "hello from a plugin" in result.stdout


def test_hooks_may_take_a_subset_of_the_arguments(plugin_dir):
    make_plugin(plugin_dir, "subset", """
from genloom import hookimpl

@hookimpl
def genloom_trainer_kwargs(kwargs):
    kwargs["max_epochs"] = 3
""")
    host = load()
    kwargs = {}
    host.call_each("genloom_trainer_kwargs", config=None, kwargs=kwargs)
    assert kwargs == {"max_epochs": 3}


HALF = """
import click
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    register("model", "halfmodel", "gltest_halfcmd:Model")

@hookimpl
def genloom_trainer_kwargs(kwargs):
    kwargs["max_epochs"] = 99

@hookimpl
def genloom_register_commands(cli):
    @cli.command()
    def half():
        "Half-added."
    raise RuntimeError("commands went wrong")
"""


def test_a_plugin_whose_commands_fail_is_removed_whole(plugin_dir):
    import click

    make_plugin(plugin_dir, "halfcmd", HALF)
    host = load()
    assert host.registry.resolve("model", "halfmodel").plugin == "halfcmd"
    train = click.Command("train")
    group = click.Group(commands={"train": train})
    host.add_commands(group)
    info = host.plugins["halfcmd"]
    assert info.status == "broken" and "commands went wrong" in info.error
    # other installed plugins (align) may add their own commands; the broken one adds none
    assert "half" not in group.commands and group.commands["train"] is train
    with pytest.raises(Exception, match="half"):
        host.registry.resolve("model", "halfmodel")
    kwargs = {}
    host.call_each("genloom_trainer_kwargs", config=None, kwargs=kwargs)
    assert kwargs == {}


def test_a_plugin_cannot_replace_a_built_in_command(plugin_dir, cli):
    make_plugin(plugin_dir, "usurper", """
import click
from genloom import hookimpl

@hookimpl
def genloom_register_commands(cli):
    @cli.command()
    def train():
        "Not the real train."
        click.echo("hijacked")
""")
    result = cli("train", "--help")
    assert result.returncode == 0 and "Train the model described by CONFIG" in result.stdout
    assert "hijacked" not in result.stdout
    assert "plugin 'usurper' tried to replace the command 'train' of 'genloom'" in result.stderr


def test_sys_exit_and_keyboard_interrupt_from_a_plugin_are_isolated(plugin_dir, cli):
    make_plugin(plugin_dir, "quitter", "import sys\nsys.exit(3)\n")
    make_plugin(plugin_dir, "ctrlc", """
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    raise KeyboardInterrupt
""")
    result = cli("--help")
    assert result.returncode == 0 and "Usage: genloom" in result.stdout
    assert "plugin 'quitter' is broken: import failed: SystemExit: 3" in result.stderr
    assert "plugin 'ctrlc' is broken: registering components failed: KeyboardInterrupt" in result.stderr
    assert cli("list", "models").returncode == 0


def test_a_slow_entry_module_is_reported(plugin_dir, cli):
    make_plugin(plugin_dir, "sluggish", "import time\ntime.sleep(0.3)\n")
    result = cli("plugins", env={"GENLOOM_PLUGIN_IMPORT_BUDGET": "0.1"})
    assert result.returncode == 0
    assert "plugin 'sluggish': slow import" in result.stderr
    row = [line for line in result.stdout.splitlines() if line.startswith("sluggish")]
    assert row and " ok " in row[0]
    assert "note: slow import" in result.stdout


def test_a_stray_distribution_cannot_displace_an_installed_plugin(plugin_dir):
    module = plugin_dir / "gltest_stray.py"
    module.write_text("")
    info = plugin_dir / "aaa_stray-1.0.dist-info"  # found before genloom-vae
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aaa-stray\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[genloom]\nvae = gltest_stray\n")
    host = load()
    assert host.plugins["vae"].distribution == "genloom-vae" and host.plugins["vae"].status == "ok"
    assert "aaa-stray" in host.plugins["vae"].note
    assert host.plugins["vae (aaa-stray)"].status == "broken"
    assert host.registry.resolve("model", "vae").plugin == "vae"


def test_a_failing_plugin_callback_is_named_in_one_line(plugin_dir, tmp_path):
    make_plugin(plugin_dir, "badcb", """
from genloom import hookimpl

@hookimpl
def genloom_callbacks(config):
    import lightning as L

    class Boom(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raise ValueError("bad callback")

    return [Boom()]
""")
    result = run_cli_in_process("train", "examples/configs/vae-toy2d.yaml", "trainer.max_epochs=1", "data.n=64",
                                "trainer.enable_progress_bar=false", f"output_dir={tmp_path / 'run'}",
                                cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: plugin 'badcb' failed in its callback Boom.on_train_epoch_end: ValueError: bad callback"
    )
    assert "Traceback" not in result.stderr


# -- issue 20 item 4 and issue 19: isolation holes, registration as data -------------------

BASE_EXCEPTIONS = ["GeneratorExit()", "BaseException('base')", "SystemExit(4)", "KeyboardInterrupt()",
                   "type('Custom', (BaseException,), {})('custom')"]


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS)
@pytest.mark.parametrize("where", ["import", "register"])
def test_every_base_exception_from_a_plugin_is_its_failure(plugin_dir, exc, where):
    source = f"raise {exc}\n" if where == "import" else f"""
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    raise {exc}
"""
    make_plugin(plugin_dir, "rude", source)
    host = load()
    assert host.plugins["rude"].status == "broken"
    assert host.plugins["vae"].status == "ok"
    assert sum("plugin 'rude' is broken" in w for w in host.warnings) == 1


def test_the_users_own_ctrl_c_during_discovery_still_stops_it(plugin_dir):
    make_plugin(plugin_dir, "slowpoke", "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n")
    with pytest.raises(KeyboardInterrupt):
        load()


def test_a_callback_raising_keyboard_interrupt_is_the_plugins_failure(plugin_dir, cli, tmp_path):
    """A process of its own: were the KeyboardInterrupt to escape, it would end pytest's."""
    make_plugin(plugin_dir, "ctrlcb", """
from genloom import hookimpl

@hookimpl
def genloom_callbacks(config):
    import lightning as L

    class Quit(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            raise KeyboardInterrupt

    return [Quit()]
""")
    result = cli("train", "examples/configs/vae-toy2d.yaml", "trainer.max_epochs=1", "data.n=64",
                 "trainer.enable_progress_bar=false", f"output_dir={tmp_path / 'run'}",
                 cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: plugin 'ctrlcb' failed in its callback Quit.on_train_epoch_end: KeyboardInterrupt: "
    ).strip()
    assert "--resume" not in result.stderr and "Traceback" not in result.stderr


ROGUE = """
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    for kind, name in [("sampler", "prior"), ("dataset", "toy2d"), ("dataset", "digits"),
                       ("model", "vae"), ("config", "vae-toy2d")]:
        register(kind, name, "gltest_rogue:Nothing")
"""


def test_a_plugin_with_common_short_names_cannot_break_other_plugins_runs(plugin_dir, tmp_path):
    run = tmp_path / "run"
    result = run_cli_in_process("train", "examples/configs/vae-toy2d.yaml", "trainer.max_epochs=1", "data.n=64",
                                "trainer.enable_progress_bar=false", f"output_dir={run}",
                                cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    make_plugin(plugin_dir, "rogue", ROGUE)
    result = run_cli_in_process("sample", str(run), "--n", "4", "--out", str(tmp_path / "s.npy"))
    assert result.returncode == 0, result.stderr  # the VAE's default sampler 'prior' is the core's
    host = load()
    assert host.registry.resolve("sampler", "prior").full_name == "genloom:prior"
    assert host.registry.resolve("dataset", "digits").full_name == "genloom:digits"
    assert host.registry.resolve("sampler", "prior", prefer="rogue").full_name == "rogue:prior"


def test_print_at_import_is_kept_out_of_json_and_noted(plugin_dir, cli):
    make_plugin(plugin_dir, "chatty", """
print("hello from chatty")
from genloom import hookimpl

@hookimpl
def genloom_register_components(register):
    print("registering")
""")
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    import json

    chatty = next(p for p in json.loads(result.stdout) if p["name"] == "chatty")
    assert chatty["status"] == "ok" and "printed" in chatty["note"] and "hello from chatty" in chatty["note"]
    assert "note: printed" in cli("plugins").stdout


def test_a_plugins_thread_and_atexit_handler_do_not_decide_the_exit(plugin_dir, cli):
    make_plugin(plugin_dir, "lingering", """
import atexit, os, threading, time
threading.Thread(target=time.sleep, args=(60,)).start()  # not a daemon
atexit.register(lambda: os._exit(7))
""")
    import time

    start = time.perf_counter()
    assert cli("list", "models").returncode == 0
    assert cli("no-such-command").returncode == 2
    assert time.perf_counter() - start < 30  # the 60 s thread was not waited for


def test_wrapper_hooks_are_refused_naming_the_plugin(plugin_dir):
    make_plugin(plugin_dir, "wrapping", """
from genloom import hookimpl

@hookimpl(hookwrapper=True)
def genloom_callbacks(config):
    yield
""")
    host = load()
    assert host.plugins["wrapping"].status == "broken"
    assert "hook 'genloom_callbacks' is a wrapper" in host.plugins["wrapping"].error
    assert host.call_each("genloom_callbacks", config=None) is not None


def test_a_disabled_plugins_component_is_named_as_disabled(plugin_dir):
    make_plugin(plugin_dir, "offline", """
open(__file__ + ".imported", "w").close()
GENLOOM_COMPONENTS = {"model:offmodel": ("gltest_offline:M", "a model")}
""")
    host = load(GENLOOM_DISABLE_PLUGINS="offline")
    assert not (plugin_dir / "gltest_offline.py.imported").exists()  # read as data
    for name in ("offmodel", "offline:offmodel"):
        with pytest.raises(Exception, match="plugin 'offline', which is disabled by GENLOOM_DISABLE_PLUGINS"):
            host.registry.resolve("model", name)


def test_components_declared_as_a_table(plugin_dir):
    make_plugin(plugin_dir, "tabled", """
from genloom import hookimpl

GENLOOM_COMPONENTS = {
    "model:tab": ("gltest_tabled:M", "from the table"),
    "sampler:tabs": "gltest_tabled:S",
}

@hookimpl
def genloom_register_components(register):
    register("metric", "computed", "gltest_tabled:C")
""")
    make_plugin(plugin_dir, "computed", "GENLOOM_COMPONENTS = {'model:x': (1 + 2, 'no')}\n")
    host = load()
    assert host.plugins["tabled"].components == ["model:tab", "sampler:tabs", "metric:computed"]
    assert host.registry.resolve("model", "tab").help == "from the table"
    assert host.plugins["computed"].status == "broken"
    assert "must be a literal dict" in host.plugins["computed"].error


def test_the_in_repo_plugins_register_by_table():
    import ast

    root = Path(__file__).resolve().parents[1]
    modules = [root / "core" / "genloom" / "builtins.py", *root.glob("plugins/*/genloom_*/plugin.py"),
               *root.glob("examples/*-plugin/genloom_*/plugin.py")]
    for module in modules:
        tree = ast.parse(module.read_text())
        names = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}
        assert "genloom_register_components" not in names, module


def _core_import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: {core module it imports}}`` over ``root`` (a ``genloom`` package), from the
    source: imports inside functions count (a lazy cycle is still a cycle), those under
    ``if TYPE_CHECKING:`` do not; importing ``genloom.a.b`` imports the package ``genloom.a``."""
    import ast

    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()

        def visit(node):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                    continue
                targets = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        up = package.split(".")[: len(package.split(".")) - child.level + 1]
                        base = ".".join([*up, *([child.module] if child.module else [])])
                    targets = [base, *(f"{base}.{a.name}" for a in child.names)]
                for target in targets:
                    while target:
                        if target in modules:
                            found.add(target)
                        target = target.rpartition(".")[0]
                visit(child)

        visit(ast.parse(path.read_text()))
        # a module's own parent packages are already being imported when it runs
        graph[name] = {m for m in found if m != name and not name.startswith(m + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                out.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycle_in_the_core():
    """Issue 19 found registry -> example_configs -> plugins -> registry, all imports inside
    functions; the core has no cycle, lazy or not."""
    root = Path(__file__).resolve().parents[1] / "core" / "genloom"
    graph = _core_import_graph(root)
    assert {"genloom.registry", "genloom.plugins", "genloom.data.base"} <= set(graph)
    assert "genloom.registry" in graph["genloom.plugins"]  # a lazy import, seen
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_lazy_cycle(tmp_path):
    package = tmp_path / "genloom"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "__init__.py").write_text("")
    (package / "registry.py").write_text("def f():\n    from genloom.recipes import g\n")
    (package / "recipes.py").write_text("from genloom import plugins\n")
    (package / "plugins.py").write_text("from .data import base\nimport genloom.registry\n")
    (package / "data" / "base.py").write_text("from typing import TYPE_CHECKING\n"
                                              "if TYPE_CHECKING:\n    from genloom import plugins\n")
    assert _cycles(_core_import_graph(package)) == [["genloom.plugins", "genloom.recipes", "genloom.registry"]]
