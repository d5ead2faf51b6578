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
