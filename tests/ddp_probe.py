"""A Lightning callback the DDP tests add by class path: every process writes the
validation metrics it holds, so a test can check that all processes agree (synced),
not only that rank 0 logged something."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class RankMetrics(Callback):
    """Append each validation's ``val/*`` metrics to ``OUT/rank-<global rank>.jsonl``."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        values = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self.out.mkdir(parents=True, exist_ok=True)
        with (self.out / f"rank-{trainer.global_rank}.jsonl").open("a") as f:
            f.write(json.dumps({"step": trainer.global_step, "world": trainer.world_size,
                                "precision": str(trainer.precision),
                                "accumulate": trainer.accumulate_grad_batches,
                                **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}) + "\n")


class RankDraws(Callback):
    """For the first ``batches`` training batches, append to ``OUT/draws-<rank>.jsonl``
    what this process trains on (the batch's first row and sum), a draw of torch's global
    generator (where models draw their training noise) and, after the step, a checksum
    of the weights (which DDP keeps equal on every process)."""

    def __init__(self, out: str, batches: int = 2) -> None:
        self.out, self.batches = Path(out), batches
        self._row: dict = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        import torch

        if batch_idx >= self.batches:
            return
        x = batch["x"]
        self._row = {"batch": batch_idx, "first": x[0].flatten()[:8].tolist(),
                     "sum": float(x.double().sum()), "noise": torch.rand(4).tolist()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.batches:
            return
        self._row["weights"] = float(sum(p.detach().double().sum() for p in pl_module.parameters()))
        self.out.mkdir(parents=True, exist_ok=True)
        with (self.out / f"draws-{trainer.global_rank}.jsonl").open("a") as f:
            f.write(json.dumps(self._row) + "\n")
