import sys

import pytest

from genloom.errors import ComponentError
from genloom.registry import Component, Registry


def make(*items):
    reg = Registry()
    for plugin, name in items:
        reg.add(Component("model", name, plugin, f"fake_module_{plugin}:Thing"))
    return reg


def test_short_and_full_names_resolve():
    reg = make(("a", "vae"), ("b", "gan"))
    assert reg.resolve("model", "vae").full_name == "a:vae"
    assert reg.resolve("model", "a:vae").plugin == "a"
    assert reg.resolve("model", "b:gan").name == "gan"


def test_clashing_short_name_is_ambiguous_and_lists_candidates():
    reg = make(("a", "vae"), ("b", "vae"))
    with pytest.raises(ComponentError, match="ambiguous") as err:
        reg.resolve("model", "vae")
    assert "a:vae" in str(err.value) and "b:vae" in str(err.value)
    assert reg.resolve("model", "b:vae").plugin == "b"


def test_clashing_short_name_prefers_the_owners_plugin():
    reg = make(("a", "mlp"), ("b", "mlp"))
    assert reg.resolve("model", "mlp", prefer="b").full_name == "b:mlp"
    with pytest.raises(ComponentError, match="ambiguous"):
        reg.resolve("model", "mlp", prefer="c")  # neither is the owner's: still ambiguous


def test_subcomponent_short_names_resolve_within_the_models_plugin():
    from genloom import load_config

    cfg = load_config(None, ["model.name=vae", "model.decoder.name=mlp"], check_trainer=False)
    assert cfg.model.decoder.name == "vae:mlp"  # the GAN plugin also has a generator 'mlp'
    cfg = load_config(None, ["model.name=gan", "model.generator.name=mlp"], check_trainer=False)
    assert cfg.model.generator.name == "gan:mlp"


def test_unknown_name_suggests_nearest_and_lists_choices():
    reg = make(("a", "diffusion"), ("a", "vae"))
    with pytest.raises(ComponentError) as err:
        reg.resolve("model", "difusion")
    msg = str(err.value)
    assert "did you mean 'diffusion'" in msg and "valid choices: diffusion, vae" in msg


def test_same_name_twice_in_one_plugin_is_an_error():
    reg = make(("a", "vae"))
    with pytest.raises(ComponentError, match="twice"):
        reg.add(Component("model", "vae", "a", "x:y"))


def test_target_must_name_module_and_attribute():
    with pytest.raises(ComponentError, match="package.module:Attribute"):
        Registry().add(Component("model", "vae", "a", "just_a_module"))


def test_loading_is_lazy(tmp_path, monkeypatch):
    (tmp_path / "lazy_target_mod.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    reg.add(Component("metric", "x", "p", "lazy_target_mod:VALUE"))
    assert "lazy_target_mod" not in sys.modules
    assert reg.load("metric", "x") == 42
    assert "lazy_target_mod" in sys.modules


def test_failed_load_names_component_and_cause():
    reg = Registry()
    reg.add(Component("model", "ghost", "p", "no_such_module_anywhere:Ghost"))
    with pytest.raises(ComponentError, match="model 'p:ghost' could not be loaded.*ModuleNotFoundError"):
        reg.load("model", "ghost")


def test_component_of_unusable_plugin_reports_original_error():
    reg = make(("a", "vae"))
    reg.unavailable["broken"] = "import failed: RuntimeError: boom"
    with pytest.raises(ComponentError, match="RuntimeError: boom"):
        reg.resolve("model", "broken:thing")
    with pytest.raises(ComponentError, match="unusable plugins: broken"):
        reg.resolve("model", "thing")


def test_an_unknown_component_of_our_own_plugins_says_what_to_install():
    """A pip user with only the core who types 'vae' learns which distribution has it."""
    from genloom.errors import ComponentError
    from genloom.registry import Registry

    empty = Registry()
    with pytest.raises(ComponentError, match=r"unknown model 'vae' \(it comes with genloom-vae: "
                                             r"pip install genloom-vae\)"):
        empty.resolve("model", "vae")
    with pytest.raises(ComponentError, match=r"pip install genloom-gan"):
        empty.resolve("config", "gan-digits")
    with pytest.raises(ComponentError) as nothing:
        empty.resolve("model", "no-such-model")
    assert "pip install" not in str(nothing.value)


def test_the_first_party_install_table_is_current():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("first_party", root / "scripts" / "first_party.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (root / "core" / "genloom" / "first_party.json").read_text()
    assert committed == script.render(), "run: .venv/bin/python scripts/first_party.py"


def test_component_kinds_has_one_name_and_the_old_one_warns():
    import genloom.registry as registry

    assert "sample_kind" in registry.COMPONENT_KINDS and "model" in registry.COMPONENT_KINDS
    with pytest.warns(DeprecationWarning, match="COMPONENT_KINDS"):
        assert registry.KINDS is registry.COMPONENT_KINDS


def test_the_docs_list_every_kind_the_core_consumes():
    from pathlib import Path

    from genloom.registry import COMPONENT_KINDS

    root = Path(__file__).resolve().parents[1]
    for doc in ("docs/hooks.md", "docs/architecture.md"):
        text = " ".join((root / doc).read_text().split())
        missing = [kind for kind in COMPONENT_KINDS if f"`{kind}`" not in text]
        assert not missing, f"{doc} does not name the core's kinds {missing}"
