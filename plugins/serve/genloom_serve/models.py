"""The served models: each run loaded once, named by its folder, described for the API."""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.errors import GenloomError


def model_name(path: str | Path) -> str:
    """A run's name: its folder (``runs/vae-digits`` -> ``vae-digits``); a ``.ckpt``'s run folder."""
    p = Path(path).resolve()
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return p.name


def sampler_options(sampler: Any) -> dict[str, Any]:
    """A sampler's options and their defaults, as ``genloom sample`` accepts them."""
    params = inspect.signature(sampler.sample).parameters
    out = {}
    for name, p in params.items():
        if p.kind is p.KEYWORD_ONLY and name not in ("cond", "generator", "on_token"):
            default = p.default
            out[name] = default if isinstance(default, (int, float, str, bool, type(None))) else repr(default)
    return out


def compatible_samplers(model: Any) -> dict[str, dict[str, Any]]:
    """Every registered sampler that can drive ``model`` (its ``check`` passes), with options."""
    from genloom.plugins import get_registry

    found: dict[str, dict[str, Any]] = {}
    registry = get_registry()
    for component in registry.components("sampler"):
        try:
            sampler = component.load()()
            sampler.check(model)
        except Exception:  # noqa: BLE001 - a sampler that cannot drive this model is left out
            continue
        short = component.name
        clash = sum(c.name == short for c in registry.components("sampler")) > 1
        found[component.full_name if clash else short] = sampler_options(sampler)
    return found


@dataclass
class ServedModel:
    name: str
    path: str
    model: Any
    kind: Any  #: the SampleKind instance
    checkpoint: str  #: hash of the checkpoint file (16 hex digits)
    samplers: dict[str, dict[str, Any]]
    lock: threading.Lock = field(default_factory=threading.Lock)  #: one forward pass at a time
    sha256: str = ""  #: the checkpoint file's full SHA-256, hashed once at load (generation records)
    _held_out: Any = None

    @property
    def family(self) -> str:
        try:
            return str(self.model.run_cfg.model.name)
        except Exception:  # noqa: BLE001 - an export without a run config
            return type(self.model).__name__

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.model, "conditional", False))

    @property
    def labels(self) -> list[int]:
        if not self.conditional:
            return []
        n = getattr(self.model.info, "num_classes", None) or getattr(self.model, "num_classes", None) or 0
        return list(range(int(n)))

    @property
    def streams(self) -> bool:
        return bool(self.kind.streams)

    @property
    def interpolates(self) -> bool:
        """Whether POST /interpolate can walk this model's latent space (genloom-eval's
        :func:`~genloom_eval.interpolation.latent_generator` accepts it)."""
        from genloom_eval.interpolation import latent_generator

        try:
            latent_generator(self.model)
        except Exception:  # noqa: BLE001 - no latent prior with a one-shot generator
            return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "family": self.family, "kind": self.kind.name,
            "checkpoint": self.checkpoint, "conditional": self.conditional, "labels": self.labels,
            "default_sampler": getattr(self.model, "default_sampler", None), "samplers": self.samplers,
            "streams": self.streams, "has_latent_space": bool(getattr(self.model, "has_latent_space", False)),
            "interpolates": self.interpolates, "suffix": self.kind.default_suffix,
            "suffixes": [*self.kind.suffixes, ".npy"], "default_n": self.kind.default_n,
        }

    def held_out(self) -> Any:
        """The test split's examples (``x``), loaded on first use; GenloomError when the
        run's data cannot be built here (its files are elsewhere)."""
        if self._held_out is None:
            from genloom.build import build_dataset
            from genloom.data.base import adopt_saved_tokenizer
            from genloom.data.splits import DataSplits, all_examples

            try:
                dataset = build_dataset(self.model.run_cfg)
                adopt_saved_tokenizer(dataset, self.model.info.tokenizer)
                split = DataSplits(dataset, self.model.run_cfg.data).split("test")
            except GenloomError:
                raise
            except Exception as exc:  # noqa: BLE001 - data not available here
                raise GenloomError(f"the held-out data of '{self.name}' cannot be loaded "
                                   f"({type(exc).__name__})") from None
            if len(split) == 0:
                raise GenloomError(f"the test split of '{self.name}' is empty")
            self._held_out = all_examples(split)["x"]
        return self._held_out


def load_models(runs: list[str]) -> dict[str, ServedModel]:
    """Load each run once; two runs with one folder name are an error."""
    from genloom.checkpoints import load_checkpoint
    from genloom.kinds import get_kind
    from genloom.provenance import checkpoint_file, file_sha256

    served: dict[str, ServedModel] = {}
    for run in runs:
        name = model_name(run)
        if name in served:
            raise GenloomError(f"two runs are named '{name}' ({served[name].path} and {run}); "
                               "serve runs whose folders have different names")
        model = load_checkpoint(run).eval()
        digest = file_sha256(checkpoint_file(run))
        served[name] = ServedModel(
            name=name, path=str(run), model=model, kind=get_kind(model.info.kind),
            checkpoint=digest[:16], samplers=compatible_samplers(model), sha256=digest,
        )
    return served
