"""Every distribution builds, passes ``twine check`` and carries what an index page needs.

``scripts/dist_check.py`` does the work (``make dist-check``); one plugin is built in
``make test`` (about 7 s), all of them in the slow tier.
"""

import sys

import pytest

sys.path.insert(0, str(__import__("support").ROOT / "scripts"))

import dist_check  # noqa: E402
from support import ROOT  # noqa: E402


def test_one_plugin_builds_and_passes_twine_check(tmp_path):
    assert dist_check.check(ROOT / "plugins/vae", tmp_path) == []


def test_relative_readme_links_are_caught():
    text = "[a](docs/x.md) ![b](../../docs/images/y.png) [c](https://x.org/z) [d](#anchor)"
    assert dist_check.RELATIVE_LINK.findall(text) == ["docs/x.md", "../../docs/images/y.png"]


def test_a_broken_distribution_is_reported(tmp_path):
    src = tmp_path / "genloom-bad"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "genloom-bad"\nversion = "0.1.0"\nreadme = "README.md"\n'
        'license = "MIT"\n[tool.setuptools]\npy-modules = ["genloom_bad"]\n'
    )
    (src / "README.md").write_text("# bad\n\nSee [the docs](../../docs/x.md).\n")
    (src / "genloom_bad.py").write_text("")
    (src / "genloom_bad_data").mkdir()  # weights beside the code that the wheel leaves out
    (src / "genloom_bad_data" / "w.safetensors").write_bytes(b"")
    problems = dist_check.check(src, tmp_path / "work")
    assert any("no LICENSE" in p for p in problems)
    assert any("no [genloom] entry point" in p for p in problems)
    assert any("links to '../../docs/x.md'" in p for p in problems)
    assert any("lacks the weights file genloom_bad_data/w.safetensors" in p for p in problems)


@pytest.mark.slow
def test_every_distribution_builds_and_passes_twine_check(tmp_path):
    problems = []
    for i, src in enumerate(dist_check.distributions()):
        problems += dist_check.check(src, tmp_path / str(i))
    assert problems == []
