"""``genloom plugins check``: one line per defect of a deliberately broken plugin, exit 2;
a sound plugin (and every installed one) passes with exit 0."""

from __future__ import annotations

from genloom_devkit.testing import make_plugin

MODEL = """
from genloom import hookimpl

class Model:  # the check reads only the class attribute
    default_sampler = {sampler!r}

@hookimpl
def genloom_register_components(register):
    register({kind!r}, "m", {target!r})
"""


def _model_plugin(root, name, *, kind="model", target=None, sampler="prior", prefix="", **kw):
    module = f"gltest_{name}"
    source = prefix + MODEL.format(kind=kind, target=target or f"{module}:Model", sampler=sampler)
    make_plugin(root, name, source, module=module, **kw)


def test_each_defect_fails_with_its_own_line(plugin_dir, cli):
    _model_plugin(plugin_dir, "badpath", target="gltest_badpath_nowhere:Model")
    _model_plugin(plugin_dir, "badkind", kind="modle")
    _model_plugin(plugin_dir, "heavy", prefix="import torch\n")
    _model_plugin(plugin_dir, "nosampler", sampler="no_such_sampler")
    _model_plugin(plugin_dir, "oldcore", requires="genloom>=9")
    make_plugin(plugin_dir, "badhook", """
        from genloom import hookimpl

        @hookimpl
        def genloom_register_component(register):
            pass
    """)
    names = ["badpath", "badkind", "heavy", "nosampler", "oldcore", "badhook"]
    result = cli("plugins", "check", *names)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    by_plugin = {n: [e for e in errors if f"plugin '{n}'" in e] for n in names}
    assert {n: len(lines) for n, lines in by_plugin.items()} == dict.fromkeys(names, 1)
    assert "gltest_badpath_nowhere" in by_plugin["badpath"][0]
    assert "kind 'modle' (did you mean 'model'?)" in by_plugin["badkind"][0]
    assert "imports torch" in by_plugin["heavy"][0]
    assert "default_sampler 'no_such_sampler'" in by_plugin["nosampler"][0]
    assert "requires genloom>=9" in by_plugin["oldcore"][0]
    assert "unknown hook 'genloom_register_component'" in by_plugin["badhook"][0]
    assert "did you mean 'genloom_register_components'" in by_plugin["badhook"][0]


def test_a_sound_plugin_passes_and_a_declared_kind_is_accepted(plugin_dir, cli):
    make_plugin(plugin_dir, "sound", """
        from genloom import hookimpl

        class Model:
            default_sampler = "prior"

        class Widget:
            pass

        @hookimpl
        def genloom_register_components(register):
            register("model", "m", "gltest_sound:Model")
            register("widget", "w", "gltest_sound:Widget")

        @hookimpl
        def genloom_component_kinds():
            return {"widget": "widgets the sound model reads"}
    """)
    result = cli("plugins", "check", "sound")
    assert result.returncode == 0 and "error" not in result.stderr
    assert result.stdout.startswith("ok: 1 plugin(s), 2 component(s) checked: sound")


def test_missing_genloom_requirement_and_unknown_name(plugin_dir, cli):
    _model_plugin(plugin_dir, "loose", requires="numpy")
    result = cli("plugins", "check", "loose", "nosuchplugin")
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert any("plugin 'loose': distribution 'loose' does not require genloom" in e for e in errors)
    assert any("plugin 'nosuchplugin': is not installed" in e for e in errors)


def test_every_installed_plugin_passes(cli):
    # a generous import budget: a loaded test machine must not make a 1 ms import "slow"
    result = cli("plugins", "check", env={"GENLOOM_PLUGIN_IMPORT_BUDGET": "5"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    for plugin in ("genloom", "devkit", "vae", "gan", "diffusion", "flow", "ebm"):
        assert plugin in result.stdout.split(": ", 2)[2].split(", ")


def test_a_config_file_missing_from_the_package_says_to_ship_it(plugin_dir, cli):
    make_plugin(plugin_dir, "noconf", """
        from genloom import hookimpl

        @hookimpl
        def genloom_register_components(register):
            register("config", "noconf-digits", "genloom:configs/noconf-digits.yaml")
            register("config", "nopkg-digits", "gltest_noconf:configs/nopkg-digits.yaml")
    """)
    result = cli("plugins", "check", "noconf")
    assert result.returncode == 2
    missing, module = [e for e in result.stderr.splitlines() if e.startswith("error: ")]
    assert "genloom:configs/noconf-digits.yaml, which is not a file of the installed package" in missing
    assert missing.endswith("fix the path or ship the file as package data")
    assert "'gltest_noconf', which does not import as a package" in module
    assert "import path" not in missing + module
