"""``genloom new-plugin``: for every kind, the written distribution loads ``ok``, passes
``genloom plugins check``, trains on its example config and passes its own tests.

The fast test installs the seven plugins the way ``make_plugin`` does (a dist-info
folder with the pyproject's entry point and requirements, the source folder on the
path): about 1 s instead of the ~15 s a real ``pip install -e`` of seven packages
takes on the 2-core test machine. The slow test does the real ``pip install -e`` into
a fresh virtual environment and runs every command through the CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from genloom_devkit.scaffold import TEMPLATES, new_plugin, render

ROOT = Path(__file__).resolve().parents[1]

# trains every config given (2 steps, no progress bar) in one interpreter: Lightning
# is imported once instead of once per kind
TRAIN_ALL = """
import sys
from genloom import load_config, train
out = sys.argv[1]
for path in sys.argv[2:]:
    name = path.rsplit("/", 1)[-1][:-5]
    cfg = load_config(path, [f"output_dir={out}/{name}", "trainer.max_steps=2", "sample.n=16",
                             "trainer.enable_progress_bar=false"])
    train(cfg, echo=None)
    print("trained", name, flush=True)
"""


def _install_like_pip(dist: Path, site: Path) -> None:
    """A dist-info for ``dist`` (name, requirements and entry point from its pyproject)."""
    text = (dist / "pyproject.toml").read_text()
    name = re.search(r'^name = "(.+)"$', text, re.M).group(1)
    deps = re.findall(r'"([^"]+)"', re.search(r"^dependencies = \[(.*)\]$", text, re.M).group(1))
    entry, target = re.search(r'^\[project\.entry-points\.genloom\]\n(\w+) = "(.+)"$', text, re.M).groups()
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    requires = "".join(f"Requires-Dist: {d}\n" for d in deps)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n{requires}")
    (info / "entry_points.txt").write_text(f"[genloom]\n{entry} = {target}\n")


def test_every_kind_loads_checks_trains_and_passes_its_own_tests(tmp_path, cli):
    names = [f"my{kind}" for kind in TEMPLATES]
    first = cli("new-plugin", names[0], "--kind", "model", "--dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert f"wrote {tmp_path / 'genloom-mymodel'}/ (model 'mymodel:mymodel')" in first.stdout
    dists = [tmp_path / "genloom-mymodel"]
    dists += [new_plugin(name, kind, tmp_path) for name, kind in zip(names[1:], list(TEMPLATES)[1:])]
    site = tmp_path / "site"
    site.mkdir()
    for dist in dists:
        _install_like_pip(dist, site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), *map(str, dists), os.environ.get("PYTHONPATH", "")]),
           "GENLOOM_PLUGIN_IMPORT_BUDGET": "5"}  # a loaded test machine must not make imports "slow"

    listed = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=env).stdout)}
    assert {n: listed[n]["status"] for n in names} == dict.fromkeys(names, "ok")
    checked = cli("plugins", "check", *names, env=env)
    assert checked.returncode == 0, checked.stderr
    # each: its component and its example config (which the check finds in the package)
    assert checked.stdout.startswith(f"ok: {len(names)} plugin(s), {2 * len(names)} component(s)")

    # the example configs ship inside the packages, registered as config components
    assert all(not (d / "configs").exists() for d in dists)
    configs = [str(d / f"genloom_{n}" / "configs" / f"{n}.yaml") for d, n in zip(dists, names)]
    listed = cli("list", "configs", env=env).stdout
    assert all(f"{n}:{n} " in listed for n in names), listed
    trained = subprocess.run([sys.executable, "-c", TRAIN_ALL, str(tmp_path / "runs"), *configs],
                             capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert trained.stdout.split() == [w for n in names for w in ("trained", n)]
    assert all((tmp_path / "runs" / n / "checkpoints" / "last.ckpt").is_file() for n in names)

    # their own tests, less the ones that train through the CLI (just done in-process)
    # and the second conformance case of each (labels, images); the slow test runs all
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-k", "not trains and not evaluate and not conditional and not image",
         *(str(d / "tests") for d in dists)],
        capture_output=True, text=True, env={**os.environ, **env}, cwd=tmp_path, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " failed" not in tests.stdout and " passed" in tests.stdout


def test_names_kinds_and_existing_folders_are_one_line_errors(tmp_path, cli):
    bad = cli("new-plugin", "My-VAE", "--dir", str(tmp_path))
    assert bad.returncode == 2 and bad.stderr.startswith("error: plugin name 'My-VAE' is not usable")
    kind = cli("new-plugin", "ok", "--kind", "modle", "--dir", str(tmp_path))
    assert kind.returncode == 2 and "'modle' is not one of" in kind.stderr
    (tmp_path / "genloom-taken").mkdir()
    (tmp_path / "genloom-taken" / "keep.txt").write_text("mine")
    taken = cli("new-plugin", "taken", "--dir", str(tmp_path))
    assert taken.returncode == 2 and "already exists" in taken.stderr
    assert (tmp_path / "genloom-taken" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "genloom-taken").iterdir()) == ["keep.txt"]


def test_the_template_pins_the_cores_minor_version_and_stays_import_light():
    files = render("thing", "denoiser")
    assert 'dependencies = ["genloom>=0.1,<0.2", "genloom-diffusion>=0.1,<0.2"]' in files["pyproject.toml"]
    assert 'thing = "genloom_thing.plugin"' in files["pyproject.toml"]
    plugin = files["genloom_thing/plugin.py"]
    assert "import torch" not in plugin and '"genloom_thing.networks:ThingDenoiser"' in plugin
    # the example config is package data, registered as a config component
    assert "configs/thing.yaml" not in files and "genloom_thing/configs/thing.yaml" in files
    assert 'register("config", "thing", "genloom_thing:configs/thing.yaml"' in plugin
    assert 'genloom_thing = ["configs/*.yaml"]' in files["pyproject.toml"]
    # the tests use the developer kit, which the dev extra declares
    assert '"genloom-devkit>=0.1"' in files["pyproject.toml"]
    assert "from genloom_devkit.testing import Case, parametrize_with_checks" in files["tests/test_thing.py"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_pip_install_editable_then_every_command_the_readme_shows(kind, tmp_path):
    """A fresh virtual environment that sees this one's libraries; the core, the plugins
    the template needs and the new plugin are installed with ``pip install -e``."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "zz_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    dist = new_plugin(f"my{kind}", kind, tmp_path)
    # the devkit: `genloom plugins check` is its command, its pytest plugin the tests' fixtures
    needed = [ROOT / "plugins" / d.removeprefix("genloom-") for d in (*TEMPLATES[kind].needs, "genloom-devkit")]
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
           "--no-build-isolation", "-e", str(ROOT), *(a for p in needed for a in ("-e", str(p))),
           "-e", str(dist)]
    subprocess.run(pip, check=True, capture_output=True, timeout=600)
    allowed = ",".join([f"my{kind}", *(p.name for p in needed)])
    env = {**os.environ, "GENLOOM_PLUGINS": allowed, "PYTHONPATH": "", "GENLOOM_PLUGIN_IMPORT_BUDGET": "5"}
    env.pop("GENLOOM_RUN_DIR", None)
    genloom = str(venv / "bin" / "genloom")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, env=env, cwd=dist, timeout=600)

    listed = {p["name"]: p["status"] for p in json.loads(run(genloom, "plugins", "--json").stdout)}
    assert listed[f"my{kind}"] == "ok"
    assert run(genloom, "plugins", "check", f"my{kind}").returncode == 0
    trained = run(genloom, "train", f"my{kind}", "trainer.max_steps=3", "output_dir=runs/a")
    assert trained.returncode == 0, trained.stderr[-2000:]
    tests = run(str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert tests.returncode == 0, tests.stdout[-3000:]


def test_kinds_is_the_deprecated_name_of_templates():
    from genloom_devkit import scaffold
    from genloom_devkit.plugin import KIND_NAMES

    assert set(TEMPLATES) == set(KIND_NAMES)  # --kind's choices, kept as names for a fast --help
    with pytest.warns(DeprecationWarning, match="KINDS is now TEMPLATES"):
        assert scaffold.KINDS is TEMPLATES
