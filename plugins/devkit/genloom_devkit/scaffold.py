"""``genloom new-plugin``: write a complete, installable plugin distribution.

The template lives in ``genloom_devkit/templates/plugin/`` as plain files with
``string.Template`` placeholders (``${name}``, ``${package}``, ``${cls}``...): shared
files (pyproject, README, the entry module) plus, per kind, a working component, an
example config and tests that use the devkit's conformance suite and pytest plugin.
The example config is package data, registered as the ``config`` component ``NAME``
as the in-repo plugins ship theirs, so ``genloom train NAME`` works from anywhere
once installed. Right after ``pip install -e`` the plugin shows ``ok`` in
``genloom plugins``, its example config trains and its tests pass. Nothing here
imports torch.
"""

from __future__ import annotations

import keyword
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from genloom import __version__
from genloom.errors import GenloomError, did_you_mean

#: what each kind's template provides: the module it writes, the class suffix, the
#: plugins its example config trains with, a one-line description and how to use it
@dataclass(frozen=True)
class KindTemplate:
    module: str
    suffix: str
    needs: tuple[str, ...]
    description: str
    usage: str


TEMPLATES: dict[str, KindTemplate] = {
    "model": KindTemplate(
        "model", "", (), "a diagonal Gaussian fitted by exact likelihood (a one-layer flow)",
        "Name it in a config as `model: {name: ${name}:${name}}`; sample a trained run with "
        "`genloom sample runs/${name} --n 16`.",
    ),
    "generator": KindTemplate(
        "networks", "Generator", ("genloom-vae",), "an MLP generator (decoder) for data of any shape",
        "Any model that builds a generator by name can use it, e.g. genloom's VAE: "
        "`model.decoder.name=${name}:${name}`.",
    ),
    "encoder": KindTemplate(
        "networks", "Encoder", ("genloom-vae",), "a Gaussian MLP encoder for data of any shape",
        "Any model that builds an encoder by name can use it, e.g. genloom's VAE: "
        "`model.encoder.name=${name}:${name}`.",
    ),
    "denoiser": KindTemplate(
        "networks", "Denoiser", ("genloom-diffusion",), "an MLP denoiser for diffusion models",
        "genloom's diffusion model uses it as `model.denoiser.name=${name}:${name}`; every "
        "diffusion sampler works with it.",
    ),
    "sampler": KindTemplate(
        "sampler", "Sampler", ("genloom-vae",),
        "antithetic prior sampling for any one-shot generator with a latent prior",
        "Draw from any model with a latent prior: `genloom sample RUN --sampler ${name}:${name}`, "
        "or `sample.sampler: ${name}:${name}` in a config for its training grids.",
    ),
    "dataset": KindTemplate(
        "data", "Dataset", ("genloom-vae",), "2-D points on a noisy ring",
        "Train any model on it: `data: {name: ${name}:${name}, n: 2000}`.",
    ),
    "metric": KindTemplate(
        "metric", "Metric", ("genloom-vae",),
        "the distance between the mean of samples and the mean of held-out data",
        "Evaluate any trained run with it: `genloom evaluate RUN --metric ${name}:${name}`.",
    ),
}

TEMPLATE_ROOT = "plugin"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(name: str) -> str:
    """The plugin name, or a one-line error: it becomes the entry-point name, the
    ``genloom_<name>`` package and the prefix of every full component name."""
    if not NAME_PATTERN.match(name) or keyword.iskeyword(name):
        raise GenloomError(
            f"plugin name '{name}' is not usable: use lower-case letters, digits and '_', "
            "starting with a letter (e.g. 'myvae'); it names the package genloom_<name>"
        )
    if name == "genloom":
        raise GenloomError("plugin name 'genloom' is the core's own; choose another")
    return name


def compatible_range(version: str = __version__) -> str:
    """``>=MAJOR.MINOR,<MAJOR.MINOR+1``: the core's minor series this plugin is written for."""
    major, minor = (int(p) for p in version.split(".")[:2])
    return f"genloom>={major}.{minor},<{major}.{minor + 1}"


def _read(relative: str) -> str:
    return (resources.files("genloom_devkit.templates") / TEMPLATE_ROOT / relative).read_text(encoding="utf-8")


def render(name: str, kind: str) -> dict[str, str]:
    """``{relative path: text}`` of the distribution for plugin ``name`` of ``kind``."""
    check_name(name)
    if kind not in TEMPLATES:
        raise GenloomError(f"unknown kind '{kind}'{did_you_mean(kind, TEMPLATES)}; "
                           f"choose one of {', '.join(TEMPLATES)}")
    spec = TEMPLATES[kind]
    package = f"genloom_{name}"
    cls = "".join(part.capitalize() for part in name.split("_")) + spec.suffix
    deps = [compatible_range(), *(f"{d}{compatible_range()[len('genloom'):]}" for d in spec.needs)]
    values = {
        "name": name,
        "kind": kind,
        "package": package,
        "module": spec.module,
        "cls": cls,
        "description": spec.description[0].upper() + spec.description[1:],
        "help": spec.description,
        "config_help": f"an example run with the {kind} {name}:{name} (edit a copy: genloom config init {name})",
        "dependencies": ", ".join(f'"{d}"' for d in deps),
    }
    values["usage"] = Template(spec.usage).substitute(values)

    def fill(relative: str) -> str:
        return Template(_read(relative)).substitute(values)

    return {
        "pyproject.toml": fill("pyproject.toml.tmpl"),
        "README.md": fill("README.md.tmpl"),
        f"{package}/__init__.py": fill("__init__.py.tmpl"),
        f"{package}/plugin.py": fill("plugin.py.tmpl"),
        f"{package}/{spec.module}.py": fill(f"{kind}/component.py.tmpl"),
        f"{package}/configs/{name}.yaml": fill(f"{kind}/config.yaml.tmpl"),
        f"tests/test_{name}.py": fill(f"{kind}/test.py.tmpl"),
    }


def new_plugin(name: str, kind: str = "model", directory: str | Path = ".") -> Path:
    """Write the distribution ``genloom-<name>`` under ``directory``; return its folder.

    Refuses to touch an existing folder, so nothing on disk is ever overwritten.
    """
    files = render(name, kind)
    root = Path(directory) / f"genloom-{name}"
    if root.exists():
        raise GenloomError(f"'{root}' already exists; choose another --dir or name, or remove it")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def __getattr__(name: str) -> object:
    if name == "KINDS":  # the earlier name of TEMPLATES, removed in genloom-devkit 0.3
        warnings.warn("genloom_devkit.scaffold.KINDS is now TEMPLATES (the template of each kind of "
                      "component); the old name is removed in 0.3", DeprecationWarning, stacklevel=2)
        return TEMPLATES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
