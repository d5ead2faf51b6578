"""Example configs ship inside the plugins that own them and are reachable by name."""

from pathlib import Path

import pytest

from support import ROOT, run_cli
from genloom.errors import ConfigError
from genloom.config import config_file, resolve_config_argument
from genloom.plugins import get_registry

EXAMPLES = sorted((ROOT / "examples/configs").glob("*.yaml"))


def test_every_example_config_is_one_packaged_file_registered_by_its_owner():
    """examples/configs/X.yaml is a link to the file a plugin ships and registers as X:
    one copy, so the repository's examples and a pip user's cannot drift apart."""
    assert len(EXAMPLES) >= 20
    registered = {c.name: c for c in get_registry().components("config")}
    for link in EXAMPLES:
        assert link.is_symlink(), link
        packaged = link.resolve()
        family = packaged.parent.parent.name.removeprefix("genloom_")
        assert packaged.is_relative_to(ROOT / "plugins" / family / f"genloom_{family}" / "configs")
        component = registered[link.stem]
        assert component.plugin == family
        assert config_file(link.stem) == packaged
        assert config_file(component.full_name) == packaged


def test_train_reads_a_path_as_a_path_and_a_bare_name_as_an_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_argument("gan-digits") == str(config_file("gan-digits"))
    assert resolve_config_argument("missing.yaml") == "missing.yaml"  # its own error later
    assert resolve_config_argument("sub/gan-digits") == "sub/gan-digits"
    Path("gan-digits").write_text("model: vae\n")  # a file of that name wins
    assert resolve_config_argument("gan-digits") == "gan-digits"
    with pytest.raises(ConfigError, match=r"unknown config 'gan-digit' \(did you mean 'gan-digits'\?\)"):
        resolve_config_argument("gan-digit")


def test_config_init_copies_an_example_and_never_overwrites(tmp_path):
    out = tmp_path / "mine.yaml"
    done = run_cli("config", "init", "cgan-digits", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == config_file("cgan-digits").read_text()
    out.write_text("edited\n")
    again = run_cli("config", "init", "cgan-digits", "--out", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "already exists; pass --force" in again.stderr and "Traceback" not in again.stderr
    assert out.read_text() == "edited\n"
    typo = run_cli("config", "init", "cgan-digts", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'cgan-digits'" in typo.stderr
    listed = run_cli("list", "configs")
    assert listed.returncode == 0 and "gan:cgan-digits" in listed.stdout and "vae:vae-digits" in listed.stdout


def test_the_old_module_path_still_works_with_a_deprecation_warning():
    import importlib
    import sys

    import genloom.config

    sys.modules.pop("genloom.example_configs", None)
    with pytest.warns(DeprecationWarning, match="genloom.config"):
        old = importlib.import_module("genloom.example_configs")
    assert old.config_file is genloom.config.config_file
    assert old.resolve_config_argument is genloom.config.resolve_config_argument
