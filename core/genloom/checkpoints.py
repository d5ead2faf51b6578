"""Checkpoints that rebuild their model through the registry, never through pickle.

A genloom checkpoint is a Lightning checkpoint plus a ``genloom`` entry holding the
resolved run config, the data info and the versions of the plugins that were loaded.
Loading uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from genloom import __version__
from genloom.data.info import DataInfo
from genloom.errors import CheckpointError

FORMAT = 1


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
        raise CheckpointError(
            f"checkpoint '{p}' was not written by genloom (no 'genloom' metadata); "
            "train with 'genloom train' to get one"
        )
    return ckpt


def load_checkpoint(path: str | Path, overrides: list[str] | None = None) -> Any:
    """Rebuild the model saved in ``path`` through the registry and load its weights.

    Returns the model in eval mode, with ``run_cfg`` and ``info`` restored.
    """
    from genloom.build import build_model
    from genloom.config import load_config

    ckpt = read_checkpoint(path)
    meta = ckpt["genloom"]
    cfg = load_config(base=meta["config"], overrides=overrides or [], check_trainer=False)
    info = DataInfo.from_dict(meta["info"])
    model = build_model(cfg, info)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint '{path}' does not fit its model: {first}") from None
    model.eval()
    return model
