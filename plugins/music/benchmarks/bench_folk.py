"""Folk benchmark: held-out bits per token, valid-ABC rate and pitch-class distance
against their real-data floors, and the time to generate 100 tunes, for trained runs.

    python plugins/music/benchmarks/bench_folk.py runs/lstm-folk runs/transformer-folk

Prints a table; asserts nothing. Set OMP_NUM_THREADS=1 to compare with docs/music.md.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import torch


def main(run_dirs: list[str]) -> None:
    from genloom import load_checkpoint
    from genloom.sampling import get_sampler

    from genloom_music.kinds import AbcKind

    print(f"{'run':<24} {'steps':>5} {'bits/token':>10} {'valid_abc':>9} {'floor':>5} "
          f"{'pc_dist':>7} {'floor':>5} {'100 tunes':>9}")
    for run in run_dirs:
        metrics = subprocess.run(
            [sys.executable, "-m", "genloom", "evaluate", run, "--json", "--metric", "losses",
             "--metric", "valid_abc", "--metric", "pitch_classes"],
            check=True, capture_output=True, text=True,
        )
        m = json.loads(metrics.stdout)
        model = load_checkpoint(run)
        options = AbcKind().tune_options(get_sampler(model.default_sampler), {})
        start = time.perf_counter()
        model.sample(100, generator=torch.Generator().manual_seed(0), **options)
        seconds = time.perf_counter() - start
        steps = torch.load(f"{run}/checkpoints/last.ckpt", weights_only=True)["global_step"]
        print(f"{run:<24} {steps:>5} {m['test/loss'] / math.log(2):>10.3f} {m['test/valid_abc']:>9.3f} "
              f"{m['test/valid_abc_floor']:>5.2f} {m['test/pitch_class_distance']:>7.3f} "
              f"{m['test/pitch_class_distance_floor']:>5.3f} {seconds:>8.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
