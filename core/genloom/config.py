"""One resolved OmegaConf tree per run: schemas <- a YAML file <- ``key=value`` overrides.

Every section, and every component's section (``model.encoder``), is checked against a
schema; a mistake is a :class:`ConfigError` naming the key, where it came from and the
valid choices or the nearest match.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genloom.errors import ComponentError, ConfigError, did_you_mean, first_line

# -- the run's own schema -------------------------------------------------------------


@dataclass
class DataSection:
    """Options every dataset shares (besides ``name``); the dataset component adds its own."""

    batch_size: int = field(default=64, metadata={"min": 1})
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "max": 1.0})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "max": 1.0})
    split_seed: int = 0
    num_workers: int = field(default=0, metadata={"min": 0})


@dataclass
class OptimConfig:
    """The optimizer and learning-rate schedule (per-player overrides in ``groups``)."""

    name: str = "adam"  # adam | adamw | sgd | rmsprop
    lr: float = 1e-3
    weight_decay: float = 0.0
    #: which parameters weight_decay applies to: "weights" (matrices, not biases, norms
    #: or embeddings) or "all"
    decay: str = "weights"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    momentum: float = 0.9
    scheduler: str = "constant"  # constant | cosine | linear | step | exponential
    warmup_steps: int = field(default=0, metadata={"min": 0})
    step_size: int = field(default=1000, metadata={"min": 1})
    #: the factor per ``step_size`` steps of the step and exponential schedules
    gamma: float = field(default=0.5, metadata={"min": 0.0})
    min_lr_ratio: float = field(default=0.0, metadata={"min": 0.0, "max": 1.0})
    gradient_clip: float = field(default=0.0, metadata={"min": 0.0})
    accumulate: int = field(default=1, metadata={"min": 1})
    #: extra keyword arguments for the optimizer (any optimizer, e.g. a class path's)
    init_args: dict[str, Any] = field(default_factory=dict)
    #: a NaN or infinite loss: "stop" the run (one line; the last good checkpoint stays)
    #: or "skip" the step
    nonfinite: str = "stop"
    groups: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleConfig:
    """Sample grids written during training, and defaults for ``genloom sample``."""

    n: int = 64
    sampler: str | None = None
    every_n_epochs: int = 1
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckpointConfig:
    """When checkpoints are written: ``last.ckpt`` at most every ``last_every_seconds`` (see
    ``LastCheckpoint``); periodic ones every ``every_n_steps`` when above 0, else every
    ``every_n_epochs`` (0: none), keeping the newest ``keep`` (-1: all)."""

    every_n_epochs: int = 10
    every_n_steps: int = 0
    keep: int = 3
    last_every_seconds: float = 10.0


@dataclass
class RunScalars:
    """The top-level keys that are not sections."""

    seed: int = 0
    output_dir: str | None = None
    init_from: str | None = None
    #: keep 4-D weights (convolutions) in channels-last order, for training and sampling
    channels_last: bool = False


#: the optimizers known by short name (``optim.name``): name -> class in ``torch.optim``;
#: the one table (``genloom.optim`` builds from it; any other needs a class path)
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}
SCHEDULES = ("constant", "cosine", "linear", "step", "exponential")
NONFINITE = ("stop", "skip")
SECTIONS = ("data", "model", "optim", "trainer", "sample", "checkpoint")


SCHEMA_SECTIONS = {"optim": OptimConfig, "sample": SampleConfig, "checkpoint": CheckpointConfig}

# -- where a key came from ------------------------------------------------------------


class Sources:
    """Answers "where did this key come from?" for error messages: the command line, the
    file, the ``base`` (``base_label``), else "defaults"; a key a chosen component requires
    comes from wherever its ``name`` was chosen."""

    def __init__(
        self, file: str | None, file_cfg: DictConfig, overrides: Sequence[str],
        base: DictConfig | None = None, base_label: str = "the base config",
    ) -> None:
        self.file, self.file_cfg, self.overrides = file, file_cfg, list(overrides)
        self.base, self.base_label = base, base_label

    def _direct(self, key: str) -> str | None:
        for item in reversed(self.overrides):
            k = item.split("=", 1)[0].lstrip("+~")
            if key == k or key.startswith(k + ".") or k.startswith(key + "."):
                return f"command line '{item}'"
        if self.file and OmegaConf.select(self.file_cfg, key, default=None) is not None:
            return self.file
        if self.base is not None and OmegaConf.select(self.base, key, default=None) is not None:
            return self.base_label
        return None

    def from_base(self, key: str) -> bool:
        """True when ``key``'s value comes from the base (a saved config), not the user."""
        return self.base is not None and self._direct(key) == self.base_label

    def of(self, key: str) -> str:
        found = self._direct(key)
        if found is None and "." in key and not key.endswith(".name"):
            found = self._direct(key.rsplit(".", 1)[0] + ".name")
        return found or "defaults"


def _registry(registry: Any) -> Any:
    """``registry``, or the process-wide one (the plugin host loads on first use)."""
    if registry is None:
        from genloom.plugins import get_registry

        registry = get_registry()
    return registry


def _fail(key: str, message: str, sources: Sources) -> ConfigError:
    return ConfigError(f"{key}: {message} (from {sources.of(key)})")


def _field_names(*schemas: type | None) -> list[str]:
    return [f.name for s in schemas if s is not None for f in dataclasses.fields(s)]


def _check_keys(node: DictConfig, allowed: Sequence[str], path: str, sources: Sources) -> None:
    for key in node:
        if key not in allowed:
            full = f"{path}.{key}" if path else str(key)
            valid = ", ".join(sorted(allowed)) or "none"
            raise _fail(full, f"unknown key{did_you_mean(str(key), allowed)}; valid keys: {valid}",
                        sources)


def _combine(schemas: Sequence[type]) -> type:
    """One dataclass with the fields of all ``schemas`` (later ones win)."""
    if len(schemas) == 1:
        return schemas[0]
    fields: dict[str, tuple[str, Any, Any]] = {}
    for schema in schemas:
        hints = typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            default = (dataclasses.field(default=f.default) if f.default_factory is dataclasses.MISSING
                       else dataclasses.field(default_factory=f.default_factory))
            fields[f.name] = (f.name, hints[f.name], default)
    return dataclasses.make_dataclass("_".join(s.__name__ for s in schemas), list(fields.values()))


def _merge(schemas: Sequence[type], values: DictConfig, path: str, sources: Sources) -> DictConfig:
    """Merge ``values`` onto the schema dataclasses, converting type errors."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(_combine(schemas)), values)
    except OmegaConfBaseException as exc:
        sub = getattr(exc, "full_key", None)
        key = ".".join(p for p in (path, sub) if p) or "config"
        raise _fail(key, first_line(exc), sources) from None
    except (TypeError, ValueError) as exc:  # optim.betas.0=1: one item of a list the schema has
        raise _fail(path or "config", f"{first_line(exc)}; set a list or mapping whole "
                    "(optim.betas=[0.9, 0.99]), not one item of it", sources) from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        key = ".".join(p for p in (path, missing[0]) if p)
        raise _fail(key, f"is required; set it in the config file or with {key}=...", sources)
    return merged


# -- components -------------------------------------------------------------------------


def resolve_component(
    kind: str, node: Any, path: str, sources: Sources, *, common: type | None = None,
    default_name: str | None = None, registry: Any = None, prefer: str | None = None,
) -> DictConfig:
    """Validate a ``{name: ..., **options}`` node against its component's schema: a plain
    DictConfig with the full ``name``, the ``Config`` defaults filled in, and every
    sub-component (the class's ``subcomponents``) resolved the same way.
    """
    registry = _registry(registry)
    if node is None:
        node = OmegaConf.create({})
    elif isinstance(node, str):
        node = OmegaConf.create({"name": node})
    elif not isinstance(node, DictConfig):
        raise _fail(path, f"expected a mapping with a 'name' key, got {node!r}", sources)
    name = node.get("name", default_name)
    if not name:
        choices = ", ".join(sorted({c.name for c in registry.components(kind)})) or "none"
        raise _fail(f"{path}.name", f"missing; choose a {kind}: {choices}", sources)
    try:
        component = registry.resolve(kind, str(name), prefer=prefer)
        cls = component.load()
    except ComponentError as exc:
        raise _fail(f"{path}.name", str(exc), sources) from None
    schema = getattr(cls, "Config", None)
    subs: dict[str, tuple[str, str | None]] = dict(getattr(cls, "subcomponents", {}) or {})
    if schema is None:  # a class without options: say so, rather than "valid keys: name"
        own = ["name", *_field_names(common), *subs]
        extra = [str(k) for k in node if k not in own]
        if extra:
            raise _fail(f"{path}.{extra[0]}", f"{kind} '{component.full_name}' takes no options: its class "
                        f"{cls.__name__} declares no nested Config dataclass; remove the key, or (its "
                        f"author) add a Config dataclass with a field '{extra[0]}' to {cls.__name__}", sources)
    _check_keys(node, ["name", *_field_names(common, schema), *subs], path, sources)
    values = OmegaConf.create({k: node[k] for k in node if k != "name" and k not in subs})
    schemas = [s for s in (common, schema) if s is not None]
    merged = _merge(schemas, values, path, sources)
    _check_bounds(schemas, merged, path, sources)
    out = OmegaConf.create({"name": component.full_name, **OmegaConf.to_container(merged)})
    for key, (sub_kind, sub_default) in subs.items():
        out[key] = resolve_component(sub_kind, node.get(key), f"{path}.{key}", sources,
                                     default_name=sub_default, registry=registry, prefer=component.plugin)
    return out


def _check_bounds(schemas: Sequence[type], node: DictConfig, path: str, sources: Sources) -> None:
    """Inclusive bounds from field metadata (``field(default=16, metadata={"min": 1})``):
    a value outside them, or a NaN, is a one-line ConfigError naming the key."""
    for schema in schemas:
        for f in dataclasses.fields(schema):
            low, high = f.metadata.get("min"), f.metadata.get("max")
            if (low is None and high is None) or f.name not in node:
                continue
            value = node[f.name]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            key = f"{path}.{f.name}" if path else f.name
            if value != value or (low is not None and value < low) or (high is not None and value > high):
                want = (f"between {low} and {high}" if low is not None and high is not None
                        else f"at least {low}" if low is not None else f"at most {high}")
                raise _fail(key, f"must be {want}, got {value}", sources)


def _check_choice(value: str, choices: Sequence[str], key: str, what: str, sources: Sources) -> None:
    if value not in choices:
        raise _fail(key, f"unknown {what} '{value}'{did_you_mean(value, choices)}; valid choices: "
                    f"{', '.join(choices)}", sources)


def resolve_name(kind: str, name: str, key: str, sources: Sources, registry: Any = None) -> str:
    """The full name of component ``name``, or a ConfigError naming ``key``."""
    registry = _registry(registry)
    try:
        return registry.resolve(kind, name).full_name
    except ComponentError as exc:
        raise _fail(key, str(exc), sources) from None


#: Trainer arguments genloom sets from ``optim`` (one source for both training paths):
#: given under ``trainer`` they would stretch the schedule, or break a multi-player model
TRAINER_FROM_OPTIM = {"accumulate_grad_batches": "optim.accumulate",
                      "gradient_clip_val": "optim.gradient_clip"}


def check_trainer_stepping(trainer: Any, sources: Sources | None = None) -> None:
    """A ConfigError for ``trainer.accumulate_grad_batches`` or ``trainer.gradient_clip_val``,
    pointing to the ``optim`` key that sets them."""
    for key, instead in TRAINER_FROM_OPTIM.items():
        if key in (trainer or {}):
            where = f" (from {sources.of('trainer.' + key)})" if sources is not None else ""
            raise ConfigError(f"trainer.{key}: set {instead} instead; genloom passes it to the "
                              f"trainer for every model{where}")


def _check_trainer(node: DictConfig, sources: Sources) -> None:
    import inspect

    import lightning

    from genloom.objects import check_trainer_objects

    params = [p for p in inspect.signature(lightning.Trainer.__init__).parameters if p != "self"]
    _check_keys(node, params, "trainer", sources)
    check_trainer_stepping(node, sources)
    try:
        check_trainer_objects(OmegaConf.to_container(node, resolve=True))
    except ConfigError as exc:
        key = str(exc).split(":", 1)[0]
        raise ConfigError(f"{exc} (from {sources.of(key)})") from None


# -- loading ----------------------------------------------------------------------------


def read_yaml(path: str | Path) -> DictConfig:
    """Read a YAML mapping, or raise a one-line ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file '{p}' does not exist")
    try:
        cfg = OmegaConf.load(p)
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise ConfigError(f"config file '{p}' is not valid YAML{where}: {problem}") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"config file '{p}' must hold a mapping of sections (data, model, ...)")
    return cfg


def parse_overrides(overrides: Sequence[str]) -> DictConfig:
    """``["a.b=1", "c=x"]`` as a DictConfig; malformed items are a ConfigError."""
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"override '{item}' must look like key=value (e.g. optim.lr=3e-4)")
    merged = OmegaConf.create({})
    for item in overrides:
        key, value = item.split("=", 1)
        try:
            merged.merge_with_dotlist([item])  # what OmegaConf.from_dotlist does, one at a time
        except RecursionError:
            raise ConfigError(f"override '{key}': the value is nested too deeply to read") from None
        except Exception as exc:  # YAML syntax (yaml.YAMLError), omegaconf, clashing types
            raise ConfigError(f"override '{item[:80]}' cannot be read ({first_line(exc)}); a value that "
                              f"is not plain YAML needs quotes: {key}='...'") from None
    return merged


def config_file(name: str, registry: Any = None) -> Path:
    """The YAML file of the packaged example config ``name``: a component of kind
    ``config``, ``"package:path"`` inside the installed plugin that owns it, so a pip
    user without ``examples/configs/`` can run ``genloom train gan-digits``.

    Raises ConfigError naming the known examples when there is no such config, or
    saying what is wrong with the installed plugin when its file is missing.
    """
    from genloom.registry import packaged_file

    registry = _registry(registry)
    try:
        component = registry.resolve("config", name)
    except ComponentError as exc:
        raise ConfigError(f"{exc}; a config is a YAML file path or the name of an example "
                          "('genloom list configs')") from None
    try:
        return packaged_file(component)
    except ComponentError as exc:
        raise ConfigError(str(exc)) from None


def resolve_config_argument(arg: str, registry: Any = None) -> str:
    """What ``genloom train CONFIG`` reads: ``arg`` itself if it is a file or looks like
    a path (a missing one too, so the caller's error names it), else the packaged
    example config named ``arg``."""
    if Path(arg).exists() or "/" in arg or "\\" in arg or arg.endswith((".yaml", ".yml")):
        return arg
    return str(config_file(arg, registry))


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    base: Any = None,
    base_label: str = "the base config",
    check_trainer: bool = True,
    registry: Any = None,
    import_classes: bool = True,
) -> DictConfig:
    """Build and validate a run's configuration.

    ``path`` is a YAML file or the name of a packaged recipe (``"vae-digits"``, see
    ``genloom list configs``); ``overrides`` are ``key=value`` strings. ``base`` (a dict or
    DictConfig, e.g. a checkpoint's saved config) sits below the file; errors about its
    values name ``base_label``. The base is untrusted: a ``${...}`` interpolation in it is
    refused (``${oc.env:SECRET}`` could echo a secret) and its class paths are never
    imported. ``import_classes=False`` imports no class path at all (``genloom config show``).
    """
    prefer = None
    if path is not None:  # a recipe's name ("vae-digits") works as in ``genloom train``
        path = resolve_config_argument(str(path))
        prefer = recipe_plugin(path, registry)
    file_cfg = read_yaml(path) if path is not None else OmegaConf.create({})
    base_cfg = OmegaConf.create(without_interpolations(base, base_label) if base is not None else {})
    command_line = parse_overrides(overrides)
    try:
        raw = OmegaConf.merge(base_cfg, file_cfg, command_line)
    except (OmegaConfBaseException, TypeError, ValueError) as exc:
        # e.g. optim.betas.0=1: an index into a list the file gives whole
        raise ConfigError(f"overrides {list(overrides)} do not fit the config ({first_line(exc)}); set a "
                          "list or mapping whole (optim.betas=[0.9, 0.99]) rather than one item of "
                          "it") from None
    sources = Sources(str(path) if path is not None else None, file_cfg, overrides,
                      base=base_cfg if base is not None else None, base_label=base_label)
    return validate(raw, sources, check_trainer=check_trainer, registry=registry,
                    import_classes=import_classes, prefer=prefer)


def recipe_plugin(path: str | Path, registry: Any = None) -> str | None:
    """The plugin that ships the YAML file ``path`` as a packaged recipe, else None: the
    short names in a recipe (``model.name: vae``) mean its own plugin's components first,
    so another plugin's model called ``vae`` cannot break ``genloom train vae-digits``."""
    from genloom.registry import packaged_file

    real = Path(path).resolve()
    for component in _registry(registry).components("config"):
        if Path(component.target.partition(":")[2]).name != real.name:
            continue  # only the few with this file name are looked up on disk
        try:
            if packaged_file(component).resolve() == real:
                return component.plugin
        except ComponentError:
            continue
    return None


def without_interpolations(value: Any, label: str, key: str = "") -> Any:
    """``value`` as plain containers, or a ConfigError naming the first ``${...}`` in it: a
    saved config holds resolved values, so one was put there by hand, and resolving it could
    read an environment variable (``${oc.env:TOKEN}``) into an error."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=False)
    if isinstance(value, str) and "${" in value:
        raise ConfigError(f"{key or 'config'}: {label} holds the interpolation '{value[:60]}'; genloom "
                          "never resolves one from a saved file: remove it or re-save the file from its run")
    if isinstance(value, dict):
        return {k: without_interpolations(v, label, f"{key}.{k}" if key else str(k))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_interpolations(v, label, f"{key}.{i}") for i, v in enumerate(value)]
    return value


def validate(
    raw: DictConfig, sources: Sources, *, check_trainer: bool = True, registry: Any = None,
    import_classes: bool = True, prefer: str | None = None,
) -> DictConfig:
    """Check ``raw`` section by section and return the resolved tree (class paths as
    :func:`load_config` says); a short model or dataset name several plugins provide is
    ``prefer``'s (the plugin whose recipe it is)."""
    scalar_keys = _field_names(RunScalars)
    _check_keys(raw, [*scalar_keys, *SECTIONS], "", sources)
    scalars = OmegaConf.create({k: raw[k] for k in scalar_keys if k in raw})
    out = OmegaConf.create(OmegaConf.to_container(_merge([RunScalars], scalars, "", sources)))
    if not 0 <= out.seed < 2**32:  # what numpy's and Lightning's seeding accept
        raise _fail("seed", f"must be between 0 and {2**32 - 1}, got {out.seed}", sources)
    try:  # interpolations may cross sections (sample.seed: ${seed}), so resolve the whole tree
        OmegaConf.resolve(raw)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve interpolation: {first_line(exc)}") from None
    out.data = resolve_component("dataset", raw.get("data"), "data", sources, common=DataSection,
                                 default_name="digits", registry=registry, prefer=prefer)
    out.model = resolve_component("model", raw.get("model"), "model", sources, registry=registry,
                                  prefer=prefer)
    for key, schema in SCHEMA_SECTIONS.items():
        section = raw.get(key) or OmegaConf.create({})
        if not isinstance(section, DictConfig):
            raise _fail(key, "must be a mapping", sources)
        _check_keys(section, _field_names(schema), key, sources)
        out[key] = _merge([schema], section, key, sources)
        _check_bounds([schema], out[key], key, sources)
    if out.data.val_fraction + out.data.test_fraction >= 1:
        raise _fail("data.val_fraction", "data.val_fraction + data.test_fraction must be below 1 "
                    f"(the rest trains), got {out.data.val_fraction} + {out.data.test_fraction}",
                    sources)
    if "." in out.optim.name or ":" in out.optim.name:  # a class path: torch.optim.NAdam
        from genloom.objects import check_class_path, optimizer_class, split_class_path

        if sources.from_base("optim.name"):
            split_class_path(out.optim.name, "optim.name")  # a file's: never imported here
        elif not import_classes:
            check_class_path(out.optim.name, "optim.name")
        else:
            optimizer_class(out.optim.name)
    elif out.optim.name not in OPTIMIZERS:  # or one a plugin registers (genloom-text's muon)
        from genloom.plugins import get_registry

        found = sorted({c.name for c in (registry or get_registry()).components("optimizer")})
        _check_choice(out.optim.name, (*OPTIMIZERS, *found), "optim.name", "optimizer", sources)
    _check_choice(out.optim.scheduler, SCHEDULES, "optim.scheduler", "schedule", sources)
    _check_choice(out.optim.nonfinite, NONFINITE, "optim.nonfinite", "policy", sources)
    if out.sample.sampler:
        out.sample.sampler = resolve_name("sampler", out.sample.sampler, "sample.sampler", sources, registry)
    trainer = raw.get("trainer") or OmegaConf.create({})
    if not isinstance(trainer, DictConfig):
        raise _fail("trainer", "must be a mapping of lightning.Trainer arguments", sources)
    if check_trainer:
        _check_trainer(trainer, sources)
    out.trainer = trainer
    try:
        OmegaConf.resolve(out)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve interpolation: {first_line(exc)}") from None
    return out
