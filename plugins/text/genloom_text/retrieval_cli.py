"""What ``genloom retrieve build`` does: load a run, build its kNN-LM datastore over the
training split, save it beside the run (kept apart from :mod:`genloom_text.retrieval`,
which sampling imports, so sampling loads no dataset code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_folder(checkpoint: str | Path) -> Path:
    """runs/NAME for runs/NAME or runs/NAME/checkpoints/X.ckpt; a lone file's own folder."""
    p = Path(checkpoint)
    if p.is_dir():
        return p
    return p.parent.parent if p.parent.name == "checkpoints" else p.parent


def training_tokens(model: Any) -> Any:
    """The training split's token ids, encoded with the model's own tokenizer."""
    from genloom.build import build_dataset
    from genloom.data.base import adopt_saved_tokenizer
    from genloom.data.splits import DataSplits

    dataset = build_dataset(model.run_cfg)
    adopt_saved_tokenizer(dataset, model.info.tokenizer)
    return DataSplits(dataset, model.run_cfg.data).split("train").tokens


def build_for_run(run: str | Path, *, max_positions: int = 500_000, out: str | Path | None = None) -> dict[str, Any]:
    """Build and save the datastore of ``run``; return where and how big."""
    from genloom import progress
    from genloom.checkpoints import load_checkpoint
    from genloom.provenance import checkpoint_file, file_sha256
    from genloom_text.retrieval import STORE, build_datastore, hidden_generator, save_datastore

    model = load_checkpoint(str(run))
    hidden_generator(model)  # a one-line error before the corpus is read
    store = build_datastore(model, training_tokens(model), max_positions=max_positions, progress=progress)
    path = Path(out) if out is not None else run_folder(run) / STORE
    ckpt = checkpoint_file(run)
    save_datastore(store, path, {"checkpoint_sha256": file_sha256(ckpt) if ckpt.is_file() else ""})
    return {"path": str(path), "positions": len(store), "width": int(store.keys.shape[1]),
            "bytes": path.stat().st_size}
