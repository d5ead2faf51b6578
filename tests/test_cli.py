"""The command line: light commands stay light, errors are one line with exit 2."""

import json
import os
import subprocess
import sys

import pytest


def imported_modules(*args):
    """Modules imported by ``genloom ARGS``, read from ``python -X importtime``."""
    code = "import sys; from genloom.cli import main; sys.argv=['genloom', *sys.argv[1:]]; main()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


@pytest.mark.parametrize("args", [
    ["--help"], ["plugins"], ["list"], ["list", "models"], ["list", "configs"], ["plugins", "check", "--help"],
    ["bench", "--help"], ["plot", "--help"],
])
def test_light_commands_import_neither_torch_nor_lightning(args):
    modules = imported_modules(*args)
    assert "click" in modules  # the check itself works
    assert "torch" not in modules and "lightning" not in modules


def test_every_command_has_help(cli):
    for command in ["plugins", "plugins check", "new-plugin", "env", "list", "config", "train", "sample", "evaluate", "export", "bench", "plot"]:
        result = cli(*command.split(), "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout


def test_plugins_json(cli):
    result = cli("plugins", "--json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["genloom"]["status"] == "ok"
    assert rows["vae"]["status"] == "ok" and "model:vae" in rows["vae"]["components"]
    assert set(rows["vae"]) >= {"name", "version", "status", "components", "import_seconds"}


def test_list_kinds(cli):
    out = cli("list", "samplers").stdout
    assert "genloom:prior" in out
    assert "vae:vae" in cli("list", "models").stdout
    bad = cli("list", "modles")
    assert bad.returncode == 2 and "unknown kind" in bad.stderr
    assert "noise_schedules" in bad.stderr  # plugin-defined kinds are listed too
    plural = cli("list", "noise_schedules")
    assert plural.returncode == 0 and "diffusion:cosine" in plural.stdout
    assert plural.stdout == cli("list", "noise_schedule").stdout


def test_config_show(cli):
    out = cli("config", "show", "vae").stdout
    assert "latent_dim: 16" in out and "name: vae:mlp" in out
    assert "shape: moons" in cli("config", "show", "toy2d", "--kind", "dataset").stdout


def test_user_errors_are_one_line_exit_2(cli, tmp_path):
    cases = [
        ["train", str(tmp_path / "missing.yaml")],
        ["train", "examples/configs/vae-digits.yaml", "model.latnt_dim=3"],
        ["sample", str(tmp_path / "missing.ckpt")],
        ["config", "show", "nosuchmodel"],
    ]
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x80\x04not a checkpoint at all")
    cases.append(["sample", str(corrupt)])
    from support import ROOT

    for args in cases:
        result = cli(*args, cwd=ROOT)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
    debug = cli("--debug", "config", "show", "nosuchmodel")
    assert "Traceback" in debug.stderr


def test_a_command_of_a_missing_distribution_says_what_to_install(cli):
    """Issue 19: `genloom serve` without genloom-serve (and a subcommand: `plugins check`
    without genloom-devkit) names the distribution, exit 2; an unknown command stays click's."""
    env = {"GENLOOM_PLUGINS": ""}  # no plugin loads: a pip user with the core alone
    for args, dist in ((["serve"], "genloom-serve"), (["plugins", "check", "vae"], "genloom-devkit"),
                       (["new-plugin", "x"], "genloom-devkit"), (["evaluate", "runs/x"], "genloom-eval")):
        out = cli(*args, env=env)
        assert out.returncode == 2, out.stderr
        assert f"pip install {dist}" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    out = cli("serve", "--help")  # installed: the command itself
    assert out.returncode == 0 and "pip install" not in out.stderr
    out = cli("nosuchcommand", env=env)
    assert out.returncode == 2 and "No such command 'nosuchcommand'" in out.stderr


NOISY = """
import logging, warnings
import click
from genloom import hookimpl

log = logging.getLogger("gltest_noisy")
log.addHandler(logging.StreamHandler())  # made at import, with the sys.stderr of that moment


@hookimpl
def genloom_register_commands(cli):
    @cli.command()
    def noisy():
        \"\"\"Warn, log and print.\"\"\"
        warnings.warn("careful", UserWarning)
        warnings.warn("old", DeprecationWarning)  # a new interpreter hides it
        log.warning("logged")
        click.echo("done")
"""


def test_the_in_process_runner_gives_what_a_subprocess_gives(cli, tmp_path, monkeypatch, plugin_dir):
    """``run_cli_in_process``: the same code, stdout and stderr as ``run_cli`` (warnings
    and logging included), with ``env`` and ``cwd`` for that call only and only the
    commands its plugins add."""
    from genloom.cli import cli as cli_group, main
    from genloom_devkit.testing import make_plugin, run_cli_in_process
    from support import ROOT

    make_plugin(plugin_dir, "noisy", NOISY)
    main(["new-plugin", "--help"])  # called directly, as scripts and other tests do: it leaves
    assert "new-plugin" in cli_group.commands  # the devkit's commands on the click group
    monkeypatch.setenv("GENLOOM_SOMETHING", "kept")
    cases = [
        (["list", "models"], {}, None),
        (["list", "modles"], {}, None),
        (["train", "examples/configs/vae-digits.yaml", "model.latnt_dim=3"], {}, ROOT),
        (["train", "examples/configs/vae-digits.yaml"], {}, tmp_path),  # relative to cwd: missing
        (["new-plugin", "x"], {"GENLOOM_DISABLE_PLUGINS": "devkit"}, tmp_path),
        (["config", "show", "toy2d", "--kind", "dataset"], {}, None),
        (["noisy"], {}, None),
        (["noisy"], {}, None),  # its logging handler was made in the call before
    ]
    seen = {}
    for args, env, cwd in cases:
        real, here = cli(*args, env=env, cwd=cwd), run_cli_in_process(*args, env=env, cwd=cwd)
        assert (here.returncode, here.stdout, here.stderr) == (real.returncode, real.stdout, real.stderr), args
        assert here.args == ["genloom", *args]
        seen[" ".join(args)] = here
    assert seen["new-plugin x"].returncode == 2
    assert "no command 'new-plugin' (it comes with genloom-devkit" in seen["new-plugin x"].stderr
    assert seen["list modles"].returncode == 2 and seen["list models"].stdout
    assert "UserWarning: careful" in seen["noisy"].stderr and "logged" in seen["noisy"].stderr
    assert os.environ["GENLOOM_SOMETHING"] == "kept" and "GENLOOM_DISABLE_PLUGINS" not in os.environ
    assert os.getcwd() != str(tmp_path)
