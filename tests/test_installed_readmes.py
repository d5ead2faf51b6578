"""A user who ``pip install``s a plugin can run every command its README shows.

``tests/test_docs.py`` runs the plugin READMEs against this checkout's virtualenv,
where the in-repo plugins are installed editable, in a scratch folder holding copies
of ``examples/`` and ``plugins/``: a README command that works only from a checkout
(a path such as ``examples/configs/x.yaml``, a config the wheel does not ship) passes
there. Here, for each ``plugins/*/README.md``, each ``examples/*-plugin/README.md``
(the out-of-tree example plugins, published the same way as ``genloom-<name>``) and the
front page ``README.md`` (its commands, for a user of genloom-vae):

1. the core, every in-repo plugin and every example plugin are built as a package index
   gets them (``scripts/dist_check.py``'s ``build_wheel``: sdist, then the wheel from it),
   once;
2. a fresh virtual environment gets the third-party libraries of this one (torch,
   lightning, ...) through a ``.pth`` file naming a folder of symlinks to them, and
   nothing of genloom: no editable finder, no ``genloom*`` package or dist-info, no
   entry point;
3. the README's own install command (its first ``pip install`` from the index, such as
   ``pip install genloom genloom-gan``) runs as ``pip install --no-index --find-links
   WHEELS ...``: non-editable, the packages the README names and what they declare,
   nothing else (a dependency neither declared nor named fails the install or a command);
4. the README's runnable blocks run with that environment's ``genloom`` in an empty
   scratch folder outside the repository (``docs_blocks.make_workspace(python=...)``),
   with the docs tests' tiny training overrides.

The example plugins' READMEs run in a test function of their own
(``test_every_command_an_example_plugin_readme_shows_runs_after_pip_install``), so ``-k``
can select or leave them out: they train more (ebm 111 s, flow 50 s, vqvae 39 s, against
3 min for the in-repo READMEs and the 23 s wheel build; the whole file took 6 min 22 s
with ``OMP_NUM_THREADS=1`` on the shared 2-core VM).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from docs_blocks import make_workspace, parse, run_block, steps
from support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import dist_check  # noqa: E402

FRONT_PAGE = ROOT / "README.md"
READMES = sorted(p for p in ROOT.glob("plugins/*/README.md") if steps(p))
PLUGINS = sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))
EXAMPLE_READMES = sorted(p for p in ROOT.glob("examples/*-plugin/README.md") if steps(p))
EXAMPLE_PLUGINS = sorted(p.parent for p in ROOT.glob("examples/*-plugin/pyproject.toml"))


PIP_INSTALL = re.compile(r"^\s*pip install (?!-e )(?P<args>[^#\n]+)", re.M)


def install_requirements(readme: Path) -> list[str]:
    """What the README tells a user to ``pip install`` from the index: the arguments of the
    first ``pip install`` in its ``bash`` blocks that is not an editable (checkout) install."""
    for block in parse(readme):
        if block.tag == "bash" and (m := PIP_INSTALL.search(block.text)):
            return shlex.split(m.group("args"))
    return []


def family(readme: Path) -> str | None:
    """The plugin a README belongs to: ``gan`` for ``plugins/gan/README.md``, ``flow`` for
    ``examples/flow-plugin/README.md`` (distribution ``genloom-<family>``, package
    ``genloom_<family>``); None for the front page, the core's."""
    if readme == FRONT_PAGE:
        return None
    return readme.parent.name.removesuffix("-plugin")


def _is_genloom(name: str) -> bool:
    """A site-packages entry that belongs to genloom or an editable install of it."""
    lowered = name.lower()
    return lowered.startswith(("genloom", "__editable__", "_genloom")) or lowered.endswith(".pth")


def fresh_venv(path: Path) -> Path:
    """A virtual environment at ``path`` that imports this one's third-party libraries but
    no genloom distribution; returns its interpreter.

    ``python -m venv --without-pip`` (seconds), then a ``.pth`` file naming a folder of
    symlinks to every entry of this environment's site-packages except genloom's own
    (``genloom*``, ``__editable__*``, ``.pth`` files). pip is among the linked
    libraries, so ``python -m pip`` works in it and installs into it.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())
    libs = path / "third-party"
    libs.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not _is_genloom(entry.name) and entry.name != "__pycache__":
            (libs / entry.name).symlink_to(entry)
    (purelib / "third_party.pth").write_text(f"{libs}\n")
    return python


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """A folder with the wheels of the core, every in-repo plugin and every example plugin
    (11 wheels: 23 s on the shared 2-core VM)."""
    found = tmp_path_factory.mktemp("wheels")
    started = time.perf_counter()
    sources = [ROOT, *PLUGINS, *EXAMPLE_PLUGINS]
    for i, src in enumerate(sources):
        wheel = dist_check.build_wheel(src, tmp_path_factory.mktemp(f"build{i}"))
        wheel.rename(found / wheel.name)
    print(f"built {len(sources)} wheels in {time.perf_counter() - started:.1f}s")
    return found


@pytest.mark.slow
def test_the_fresh_venv_sees_no_genloom_until_installed(tmp_path):
    python = fresh_venv(tmp_path / "venv")
    probe = "import importlib.util as u; print(u.find_spec('genloom'), u.find_spec('genloom_gan'))"
    assert subprocess.run([python, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.split() == ["None", "None"]
    assert subprocess.run([python, "-c", "import torch, lightning"]).returncode == 0
    assert not (tmp_path / "venv" / "bin" / "genloom").exists()


def test_the_install_command_is_read_from_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "```bash\n# not runnable: installs packages\npip install -e plugins/x   # checkout\n"
        "pip install 'genloom-x[extra]' genloom-y   # from the index\n```\n"
    )
    assert install_requirements(readme) == ["genloom-x[extra]", "genloom-y"]
    assert install_requirements(ROOT / "plugins/gan/README.md") == ["genloom", "genloom-gan"]


@pytest.mark.parametrize("readme", READMES + EXAMPLE_READMES,
                         ids=[str(r.relative_to(ROOT)) for r in READMES + EXAMPLE_READMES])
def test_a_plugin_readme_installs_from_the_index_and_runs_no_checkout_path(readme):
    """What the installed run below needs of a README, checked in the fast tier: its first
    non-editable ``pip install`` names the plugin's distribution and no local path (a
    checkout install such as ``pip install ./examples/flow-plugin`` goes in a later,
    ``# not runnable`` block), and no runnable block names a checkout folder."""
    requirements = install_requirements(readme)
    assert f"genloom-{family(readme)}" in {re.sub(r"\[.*", "", r) for r in requirements}
    assert [r for r in requirements if "/" in r or r.startswith(".")] == []
    run = [(b.where, b.text if b.runnable else b.output_of) for b in steps(readme)]
    named = [where for where, text in run if re.search(r"\b(examples|plugins)/", text)]
    assert named == []


def run_installed_readme(readme: Path, wheels: Path, tmp_path: Path) -> None:
    """Install what ``readme`` says from ``wheels`` into a fresh virtual environment and
    run its blocks there, in an empty folder; fail naming every block that failed."""
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    requirements = install_requirements(readme)
    name = family(readme)
    assert f"genloom-{name or 'vae'}" in {re.sub(r"\[.*", "", r) for r in requirements}
    installed = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
         "--find-links", str(wheels), *requirements],
        capture_output=True, text=True, timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = subprocess.run(
        [python, "-c", f"import genloom, genloom_{name or 'vae'} as p; print(genloom.__file__, p.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.split()
    site = str(venv / "lib")
    assert [w.startswith(site) for w in where] == [True, True]
    assert [w.startswith(str(ROOT)) for w in where] == [False, False]

    work = tmp_path / "work"
    work.mkdir()
    env = make_workspace(work, python=python)
    failures = []
    for block in steps(readme):
        t0 = time.perf_counter()
        out = run_block(block, work, env, python=python)
        print(f"{block.where}: {time.perf_counter() - t0:.1f}s")
        if block.output_of is not None and block.tag in ("", "text"):
            continue  # shown output is compared by tests/test_docs.py
        if out.returncode != block.expected_status:
            failures.append(f"{block.where}: exit {out.returncode}, expected {block.expected_status}\n"
                            f"{out.output[-3000:]}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("readme", READMES, ids=[str(r.relative_to(ROOT)) for r in READMES])
def test_every_command_a_plugin_readme_shows_runs_after_pip_install(readme, wheels, tmp_path):
    run_installed_readme(readme, wheels, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("readme", EXAMPLE_READMES, ids=[str(r.relative_to(ROOT)) for r in EXAMPLE_READMES])
def test_every_command_an_example_plugin_readme_shows_runs_after_pip_install(readme, wheels, tmp_path):
    """The out-of-tree example plugins as a user who ``pip install``s ``genloom-flow`` (and
    what its README names with it) gets them: the example configs by name, from the wheel."""
    run_installed_readme(readme, wheels, tmp_path)


def test_the_front_page_names_what_its_commands_need():
    """README.md's commands are for a VAE user (issue 19: it never said which plugin
    'vae' needs); its first index install names the core and genloom-vae, and no
    runnable block names a checkout folder."""
    assert {"genloom", "genloom-vae"} <= {re.sub(r"\[.*", "", r) for r in install_requirements(FRONT_PAGE)}
    run = [(b.where, b.text if b.runnable else b.output_of) for b in steps(FRONT_PAGE)]
    assert [where for where, text in run if re.search(r"\b(examples|plugins)/", text)] == []


@pytest.mark.slow
def test_every_command_the_front_page_shows_runs_after_pip_install(wheels, tmp_path):
    """README.md's command line and Python API, for a user who installed what it names,
    in an empty folder (test_docs.py runs them in a checkout)."""
    run_installed_readme(FRONT_PAGE, wheels, tmp_path)
