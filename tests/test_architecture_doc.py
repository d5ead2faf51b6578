"""docs/architecture.md's map of the distributions and its boundaries, held against the
code (issue 19: the rule "a model plugin may depend on a library, never on another model
plugin; the core depends on none", written down and kept):

- every distribution of the repository is on the map, with the genloom distributions
  its ``pyproject.toml`` declares;
- a distribution imports another one's package only when it declares it, never a model
  plugin's, and the core imports none;
- the core modules outside the public API that the in-repo distributions import are
  the ones the Boundaries section lists;
- Lightning is imported at module level by the modules the docs name;
- a library's row names every metric it registers.

Imports are read from the source (``ast``), inside functions too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from support import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _section(title: str) -> str:
    """The text of ``## title`` in architecture.md, up to the next ``## `` heading."""
    text = ARCHITECTURE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def _sources(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*.py"))
            if not {"build", "__pycache__"} & set(p.relative_to(folder).parts)]


def _imports(folder: Path, *, module_level_only: bool = False) -> dict[str, set[str]]:
    """``{imported module: {file, ...}}`` for every absolute import under ``folder``."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if module_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            for name in names:
                found.setdefault(name, set()).add(where)
            visit(child, where)

    for path in _sources(folder):
        visit(ast.parse(path.read_text()), str(path.relative_to(ROOT)))
    return found


def _dist_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")


def _distributions() -> dict[str, dict]:
    """``{distribution: {"packages", "declares", "entry"}}`` for the core, every plugin and
    every example plugin; ``declares`` holds the genloom distributions it requires to run
    (its dependencies and extras, not the ``test`` extra)."""
    out = {}
    for pyproject in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml")),
                      *sorted(ROOT.glob("examples/*-plugin/pyproject.toml"))]:
        meta = tomllib.loads(pyproject.read_text())["project"]
        extras = meta.get("optional-dependencies", {})  # the test extra's devkit is no runtime need
        requirements = [*meta.get("dependencies", []),
                        *(r for extra, reqs in extras.items() if extra not in ("test", "dev") for r in reqs)]
        folder = pyproject.parent
        packages = ([ROOT / "core" / "genloom"] if folder == ROOT else
                    [p for p in folder.glob("genloom_*") if p.is_dir() and not p.name.endswith(".egg-info")])
        out[meta["name"]] = {
            "packages": packages,
            "declares": {_dist_name(r) for r in requirements if _dist_name(r).startswith("genloom")},
            "entry": list(meta.get("entry-points", {}).get("genloom", {}).values()),
        }
    return out


def _map() -> list[dict]:
    """The rows of the Distributions table: names, kind, row text, and the genloom
    distributions its "depends on" column names (the core as ``genloom``)."""
    rows = []
    for line in _section("Distributions").splitlines():
        if not line.startswith("| `genloom"):
            continue
        cells = line.split("|")
        names = re.findall(r"`(genloom[\w-]*)`", cells[1])
        depends = set(re.findall(r"`(genloom-[\w-]+)`", cells[-2])) - set(names)
        if "the core" in cells[-2]:
            depends.add("genloom")
        rows.append({"names": names, "kind": cells[2].strip(), "depends": depends, "text": line})
    return rows


DISTRIBUTIONS = _distributions()


def _row(name: str) -> dict:
    rows = [row for row in _map() if name in row["names"]]
    assert len(rows) == 1, f"{name} is on {len(rows)} rows of architecture.md's Distributions table"
    return rows[0]


def _package(dist: str) -> str:
    return dist.replace("-", "_")


def test_every_distribution_is_on_the_map_with_what_it_declares():
    for row in _map():
        declared = set().union(*(DISTRIBUTIONS[n]["declares"] for n in row["names"]))
        assert row["depends"] == declared, f"{row['names']}: the map says {sorted(row['depends'])}, " \
                                           f"their pyproject.toml files declare {sorted(declared)}"
    for name, dist in DISTRIBUTIONS.items():
        row = _row(name)
        assert dist["declares"] <= row["depends"], name


def test_nothing_depends_on_a_model_plugin_and_imports_follow_the_declarations():
    packages = {_package(name): name for name in DISTRIBUTIONS if name != "genloom"}
    for name, dist in DISTRIBUTIONS.items():
        for dep in dist["declares"]:
            assert "model plugin" not in _row(dep)["kind"], f"{name} depends on the model plugin {dep}"
        imported = {}
        for package in dist["packages"]:
            for module, where in _imports(package).items():
                top = module.split(".")[0]
                if top in packages and top != package.name:
                    imported.setdefault(packages[top], set()).update(where)
        undeclared = {dep: sorted(where)[0] for dep, where in imported.items() if dep not in dist["declares"]}
        assert undeclared == {}, f"{name} imports distributions it does not declare"


def test_the_core_modules_in_repo_plugins_import_beyond_the_public_api_are_listed():
    boundaries = _flat(_section("Boundaries"))
    public_part = boundaries.split("A third-party plugin imports only genloom's public API", 1)[1]
    public_part = public_part.split("in its tests", 1)[0]
    public = {"genloom", *re.findall(r"`(genloom\.[\w.]+)`", public_part)}
    listed_part = boundaries.split("which may change in any minor version:", 1)[1].split("(", 1)[0]
    listed = set(re.findall(r"`(genloom\.[\w.]+)`", listed_part))
    used: dict[str, set[str]] = {}
    for name, dist in DISTRIBUTIONS.items():
        for package in dist["packages"] if name != "genloom" else []:
            for module, where in _imports(package).items():
                if module.split(".")[0] != "genloom":
                    continue
                if module in public or any(module.startswith(p + ".") for p in public - {"genloom"}):
                    continue
                used.setdefault(module, set()).update(where)
    unlisted = {m: sorted(w)[0] for m, w in used.items() if m not in listed}
    assert unlisted == {}, "add these to architecture.md's Boundaries list, or import the public API"
    assert listed - set(used) == set(), "architecture.md lists modules no in-repo distribution imports"


def test_lightning_is_imported_at_module_level_where_the_docs_say():
    core = ROOT / "core" / "genloom"
    found = _imports(core, module_level_only=True)
    importers = {Path(w).relative_to("core/genloom").as_posix()
                 for module, where in found.items() if module.split(".")[0] == "lightning" for w in where}
    everywhere = _imports(core)
    lazily = {Path(w).relative_to("core/genloom").as_posix()
              for module, where in everywhere.items() if module.split(".")[0] == "lightning"
              for w in where} - importers
    text = _flat(ARCHITECTURE.read_text())
    sentence = re.search(r"Lightning is imported by (.*?) only, and lazily by (.*?) \(", text)
    assert set(re.findall(r"`([\w/]+\.py)`", sentence.group(1))) == importers
    assert set(re.findall(r"`([\w/]+\.py)`", sentence.group(2))) == lazily
    for doc in (ARCHITECTURE, ROOT / "CONTRIBUTING.md"):
        named = re.search(r"Lightning stays in the core's training modules\**\s*\(([^)]*)\)", _flat(doc.read_text()))
        assert set(re.findall(r"`([\w/]+\.py)`", named.group(1))) == importers, doc.name


LIBRARIES = sorted(n for row in _map() if "library" in row["kind"] for n in row["names"])


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_librarys_row_names_every_metric_it_registers(name):
    """A model plugin's metrics are on its own page; a library's are on the map."""
    from genloom.plugins import read_component_table

    row = _row(name)
    metrics = {n for module in DISTRIBUTIONS[name]["entry"]
               for kind, n, _, _ in read_component_table(module) or [] if kind == "metric"}
    assert {m for m in metrics if f"`{m}`" not in row["text"]} == set()


def test_the_scans_see_what_they_check():
    """The readers above find imports inside functions (and leave them out when asked),
    and a distribution on a row it shares with others."""
    music = ROOT / "plugins" / "music" / "genloom_music"
    assert "genloom_text.data" in _imports(music, module_level_only=True)
    assert "genloom.sampling" in _imports(music)  # imported inside SampleKind.draw only
    assert "genloom.sampling" not in _imports(music, module_level_only=True)
    assert {"genloom-eval", "genloom-text", "genloom-diffusion"} <= set(LIBRARIES)
    flow = _row("genloom-flow")
    assert flow["kind"] == "model plugins" and "genloom-ebm" in flow["names"]
    assert DISTRIBUTIONS["genloom-flow"]["declares"] == {"genloom", "genloom-eval"}
