"""Checkpoints that rebuild their model through the registry, never through pickle
(``torch.load(weights_only=True)``, safetensors for exports).

A checkpoint is Lightning's plus a ``genloom`` entry (resolved config, data info, plugin
versions). Format 1 keys are the model's own; format 2 keys carry the training adapter's
prefix ``model.``. :func:`read_weights` returns the model's own keys for both.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Protocol

import torch
from omegaconf import OmegaConf

from genloom import __version__
from genloom.data.info import DataInfo
from genloom.errors import CheckpointError, first_line

FORMAT = 2
#: what format 2 puts before every state dict key: the adapter's attribute ``model``
PREFIX = "model."


def genloom_metadata(model: Any) -> dict[str, Any]:
    """What a checkpoint records about the run that wrote it (plain data only)."""
    from genloom.plugins import get_plugin_host

    run_cfg = getattr(model, "run_cfg", None)
    return {
        "format": FORMAT,
        "genloom_version": __version__,
        "config": OmegaConf.to_container(run_cfg) if run_cfg is not None else None,
        "info": model.info.to_dict() if model.info is not None else None,
        "plugins": get_plugin_host().versions(),
    }


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file safely, or raise a one-line CheckpointError."""
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / "last.ckpt" if (p / "checkpoints").is_dir() else p / "last.ckpt"
    if not p.is_file():
        if Path(path).is_dir():
            raise CheckpointError(f"'{path}' holds no checkpoint and is in no layout genloom knows{_layouts(path)}")
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols first
            warnings.simplefilter("ignore")
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint '{p}' cannot be read ({type(exc).__name__}): it is truncated, corrupt, "
            "or holds more than tensors and plain data; use a last.ckpt written by genloom train"
        ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("genloom"), dict):
        raise CheckpointError(f"checkpoint '{p}' was not written by genloom (no 'genloom' metadata); "
                              "train with 'genloom train' to get one")
    fmt = ckpt["genloom"].get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise CheckpointError(f"checkpoint '{p}' has a damaged genloom metadata (format {fmt!r} is not a "
                              "number); use a last.ckpt written by genloom train")
    if not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"checkpoint '{p}' holds no weights ('state_dict' is missing or not a "
                              "mapping); use a last.ckpt written by genloom train")
    if checkpoint_format(ckpt) > FORMAT:
        raise CheckpointError(f"checkpoint '{p}' has format {checkpoint_format(ckpt)}, newer than this "
                              f"genloom {__version__} reads ({FORMAT}); upgrade genloom")
    return ckpt


def checkpoint_format(ckpt: dict[str, Any]) -> int:
    """The format number of a checkpoint dict (1 when it records none)."""
    meta = ckpt.get("genloom") if isinstance(ckpt, dict) else None
    return int(meta.get("format", 1)) if isinstance(meta, dict) else 1


def model_state_dict(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The model's own state dict from a checkpoint dict of any format (prefix removed)."""
    state = ckpt["state_dict"]
    if checkpoint_format(ckpt) < 2:
        return state
    n = len(PREFIX)
    return {k[n:] if k.startswith(PREFIX) else k: v for k, v in state.items()}


WEIGHTS, METADATA = "model.safetensors", "genloom.json"
#: the key of ``genloom.json`` holding ``model.safetensors``' SHA-256 (see _write_export)
WEIGHTS_HASH = "weights_sha256"
#: the largest ``genloom.json`` read (config, data info, tokenizer state: a few MB at most)
MAX_METADATA_BYTES = 64 * 2**20


def is_export(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / WEIGHTS).is_file() and (p / METADATA).is_file()


def export(path: str | Path, out_dir: str | Path, *, force: bool = False,
           quantize: str | None = None) -> Path:
    """Write a checkpoint's weights as safetensors plus its metadata as JSON.

    The result loads with no pickle at all (``load_checkpoint(out_dir)``), which is
    what should be published. Existing files are kept unless ``force`` is set.
    ``quantize="int8"`` stores the untied linear weights in int8 with the ``quantizer``
    component of that name (genloom-compress registers ``int8``); such an export
    samples with int8 matrix products on CPU.
    """
    out = Path(out_dir)
    _check_export_folder(out, force)
    if quantize is not None:
        quantizer = _quantizer(quantize)
        model = load_checkpoint(path)
        if getattr(model, "quantized_layers", None):
            raise CheckpointError(f"'{path}' is already quantised; export the float checkpoint")
        tensors, layers = quantizer.quantized_state(model)
        meta = read_weights(path)[0]
        meta = {**meta, "quantized": {"scheme": quantize, "layers": layers}}
    else:
        ckpt = read_checkpoint(path)
        _config_and_info(ckpt["genloom"], path)  # an export that would not load is refused now
        # clone: tied weights share storage, which safetensors refuses to write twice
        tensors = {k: v.detach().clone().contiguous() for k, v in model_state_dict(ckpt).items()}
        meta = ckpt["genloom"]
    return _write_export(out, tensors, meta)


def export_as(fmt: str, path: str | Path, out_dir: str | Path, *, force: bool = False,
              quantize: str | None = None) -> list[str]:
    """Write a checkpoint in the format of the ``layout`` component ``fmt`` (one that has
    ``write(model, out_dir, force=...)``, returning the files written)."""
    from genloom.plugins import get_registry

    writers = [c.name for c in get_registry().components("layout") if hasattr(c.load(), "write")]
    if fmt not in writers or quantize:
        raise CheckpointError(f"export format '{fmt}' is unknown; formats: genloom, {', '.join(writers)}"
                              if fmt not in writers else "--quantize writes genloom's format only")
    return get_registry().load("layout", fmt).write(load_checkpoint(path), out_dir, force=force)


class Quantizer(Protocol):
    """A ``quantizer`` component (genloom-compress registers ``int8``): how an export
    stores weights in fewer bits, and how they are read back. The core reaches
    quantisation only through it, by the scheme name saved in ``genloom.json``."""

    def quantized_state(self, model: Any) -> tuple[dict[str, Any], list[str]]:
        """The state dict with quantised layers, and those layers' names."""
        ...

    def dequantize_state(self, meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        """Float weights of a quantised export's state dict."""
        ...

    def requantize(self, model: Any, meta: dict[str, Any], state: dict[str, Any]) -> Any:
        """Swap the loaded float ``model``'s quantised layers for their low-bit form."""
        ...


def _scheme(meta: dict[str, Any], path: str | Path) -> str:
    info = meta.get("quantized")
    if not isinstance(info, dict) or not isinstance(info.get("scheme"), str):
        raise CheckpointError(f"'{path}': its 'quantized' metadata names no scheme; export it again")
    return info["scheme"]


def _quantizer(scheme: str) -> Quantizer:
    """The registered ``quantizer`` ``scheme``, or a one-line error saying what to install."""
    from genloom.errors import ComponentError
    from genloom.plugins import get_registry

    try:
        return get_registry().load("quantizer", scheme)()
    except ComponentError as exc:
        # the registry's error says which distribution ships a first-party scheme (int8)
        raise ComponentError(f"quantisation scheme '{scheme}' needs a quantizer component ({exc})") from None


def _check_export_folder(out: Path, force: bool) -> None:
    """Refuse a file, an existing export without ``force``, and a run's folder (where the
    export would be loaded instead of the run's ``last.ckpt``)."""
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"'{out}' exists and is not a folder; name a folder for the export")
    if out.is_dir() and ((out / "checkpoints").is_dir() or any(out.glob("*.ckpt"))):
        raise CheckpointError(
            f"'{out}' holds a training run's checkpoints; an export there would hide them from "
            "sample, evaluate and init_from: name another folder"
        )
    if not force and any((out / name).exists() for name in (WEIGHTS, METADATA)):
        raise CheckpointError(f"'{out}' already holds an export; pass --force to replace it")


def _write_export(out: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write weights, then metadata recording their SHA-256, each atomically (a crash between
    the two is detected on load)."""
    import hashlib

    from safetensors.torch import save

    from genloom.atomic import write_atomic

    data = save(tensors, metadata={"format": "genloom"})
    meta = {**meta, WEIGHTS_HASH: hashlib.sha256(data).hexdigest()}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / WEIGHTS, data)
        write_atomic(out / METADATA, json.dumps(meta, indent=2))
    except OSError as exc:
        raise CheckpointError(f"cannot write the export to '{out}': {exc.strerror or exc}") from None
    return out


def save_model(model: Any, out_dir: str | Path, *, force: bool = False,
               note: dict[str, Any] | None = None) -> Path:
    """Write an in-memory model as an export (``model.safetensors`` + ``genloom.json``).

    For code that changes a loaded model outside ``genloom train`` (alignment,
    adapters merged into the weights): the result loads with :func:`load_checkpoint`
    like any export. ``model`` must carry ``run_cfg`` and ``info`` (a model from
    :func:`load_checkpoint` or ``build_model`` does). ``note`` is stored under
    ``genloom.json``'s ``note`` key (what produced the weights)."""
    if getattr(model, "run_cfg", None) is None or getattr(model, "info", None) is None:
        raise CheckpointError("save_model needs a model with run_cfg and info "
                              "(one from load_checkpoint or build_model)")
    out = Path(out_dir)
    _check_export_folder(out, force)
    meta = genloom_metadata(model)
    if note:
        meta["note"] = note
    tensors = {k: v.detach().clone().contiguous().cpu() for k, v in model.state_dict().items()}
    return _write_export(out, tensors, meta)


def _read_export(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import hashlib

    from safetensors import SafetensorError
    from safetensors.torch import load

    fix = "re-export it from the run's last.ckpt (genloom export RUN OUT_DIR --force)"
    try:
        if (path / METADATA).stat().st_size > MAX_METADATA_BYTES:
            raise CheckpointError(f"'{path}': its {METADATA} is over {MAX_METADATA_BYTES:,} "
                                  f"bytes, larger than any genloom metadata; {fix}")
        meta = json.loads((path / METADATA).read_text(encoding="utf-8"))
        data = (path / WEIGHTS).read_bytes()
        if not isinstance(meta, dict):
            raise CheckpointError(f"'{path}': its genloom metadata is not a JSON object; {fix}")
        expected = meta.get(WEIGHTS_HASH)
        if expected is not None and expected != hashlib.sha256(data).hexdigest():
            raise CheckpointError(f"export '{path}': {WEIGHTS} does not match {METADATA} (an export "
                                  f"interrupted while replacing them?); {fix}")
        quantized = meta.get("quantized")
        if quantized and not (
            isinstance(quantized, dict) and isinstance(quantized.get("scheme"), str)
            and isinstance(quantized.get("layers"), list)
            and all(isinstance(name, str) for name in quantized["layers"])
        ):
            raise CheckpointError(f"'{path}': its genloom metadata's 'quantized' is damaged; {fix}")
        state = load(data)
    except (OSError, ValueError, RecursionError, SafetensorError) as exc:
        raise CheckpointError(f"export '{path}' cannot be read: {first_line(exc)}") from None
    return meta, state


def read_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(genloom metadata, the model's own state_dict)`` from a ``.ckpt`` file (format 1
    or 2), a run directory or an export."""
    if is_export(path):
        meta, state = _read_export(Path(path))
        if meta.get("quantized"):
            state = _quantizer(_scheme(meta, path)).dequantize_state(meta, state)
        return meta, state
    ckpt = read_checkpoint(path)
    return ckpt["genloom"], model_state_dict(ckpt)


def load_weights(model: Any, state_dict: dict[str, Any], path: str | Path, what: str) -> None:
    """Load ``state_dict`` into ``model``; a mismatch is a one-line CheckpointError."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(f"{what} '{path}' does not fit this model ({first_line(exc)}); use one of "
                              "the same architecture") from None


def _config_and_info(meta: Any, path: str | Path) -> tuple[Any, DataInfo]:
    """The saved run config and data description, or a one-line CheckpointError when the
    metadata was edited or damaged."""
    from omegaconf import OmegaConf

    fix = "re-export it from the run's last.ckpt (genloom export RUN OUT_DIR --force)"
    if not isinstance(meta, dict):
        raise CheckpointError(f"'{path}': its genloom metadata is not a JSON object; {fix}")
    for key in ("config", "info"):
        if not isinstance(meta.get(key), dict):
            raise CheckpointError(f"'{path}': its genloom metadata has no '{key}' object; {fix}")
    try:
        config = OmegaConf.create(meta["config"])
        info = DataInfo.from_dict(meta["info"])
    except Exception as exc:  # omegaconf's validation errors, or fields of the wrong type
        first = first_line(exc)
        raise CheckpointError(f"'{path}': its genloom metadata is damaged ({first}); {fix}") from None
    return config, info


def _layouts(path: str | Path, found: bool = False) -> Any:
    """``found``: the ``layout`` components (a plugin's reader of a foreign folder, with
    ``recognizes(path)`` and ``load(path)``) that read the folder ``path`` that is no run or
    export; otherwise the layouts known, as words for an error."""
    from genloom.plugins import get_registry

    known = get_registry().components("layout")
    p = Path(path)
    if found:
        plain = not p.is_dir() or is_export(p) or (p / "checkpoints").is_dir() or (p / "last.ckpt").exists()
        return [] if plain else [obj for obj in (c.load() for c in known) if obj.recognizes(p)][:1]
    return ("; genloom reads a run (last.ckpt), an export (model.safetensors + genloom.json)"
            + "".join(f", {c.name} ({c.help})" for c in known))


def load(path: str | Path, overrides: list[str] | None = None) -> Any:
    """Rebuild the model saved in ``path`` through the registry and load its weights
    (``genloom.load_checkpoint``, its earlier name, is the same function, without a warning).

    ``path`` is a ``.ckpt`` file, a run directory (its ``last.ckpt``), a folder written by
    :func:`export`, or a folder in a foreign layout that a plugin's ``layout`` component
    reads (such as Hugging Face's); a folder in no known layout raises a CheckpointError
    naming the layouts genloom knows. Returns the model in eval mode, with ``run_cfg`` and
    ``info`` restored.
    """
    from genloom.bounds import build_bounded
    from genloom.config import load_config

    for layout in _layouts(path, found=True):  # a folder in a plugin's foreign layout
        return layout.load(path)
    meta, state_dict = read_weights(path)
    saved_config, info = _config_and_info(meta, path)
    cfg = load_config(
        base=saved_config, base_label=f"the config saved in '{path}'", overrides=overrides or [],
        check_trainer=False,
    )
    model = build_bounded(cfg, info, state_dict, path)  # the saved config's sizes are bounded
    load_weights(model, state_dict, path, "checkpoint")
    model.eval()
    if meta.get("quantized"):  # int8 layers with exactly the stored weights
        _quantizer(_scheme(meta, path)).requantize(model, meta, _read_export(Path(path))[1])
        model.quantized_layers = list(meta["quantized"]["layers"])
    return model


load_checkpoint = load  # its earlier name, kept without a warning
