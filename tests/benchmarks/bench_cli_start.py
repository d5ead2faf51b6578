"""CLI start-up: wall time of `genloom plugins` / `--help` / `list`, and whether torch
or lightning got imported (they must not be); then `genloom sample RUN --n N` (each of
``--n``, default 1 and 16) against `python -c "import torch"`, whose cost sampling cannot
avoid (it must not add Lightning's; issue 21's target: at most 1.3x).

Run: .venv/bin/python tests/benchmarks/bench_cli_start.py [--repeats 5] [--run RUN] [--n 1 16]
(without --run, a VAE is trained for 2 steps into a temporary folder first, untimed)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CODE = "import sys; from genloom.cli import main; sys.argv=['genloom', *sys.argv[1:]]; main()"


def run(args: list[str]) -> tuple[float, bool, bool]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CODE, *args],
        capture_output=True, text=True, check=True,
    )
    elapsed = time.perf_counter() - start
    mods = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return elapsed, "torch" in mods, "lightning" in mods


def wall(argv: list[str]) -> float:
    """Seconds a fresh process running ``argv`` takes, start to exit."""
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def tiny_run(folder: Path) -> Path:
    """A VAE trained for 2 steps on the built-in digits (not timed)."""
    config = Path(__file__).resolve().parents[2] / "examples" / "configs" / "vae-digits.yaml"
    run_dir = folder / "run"
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    subprocess.run(
        [sys.executable, "-c", CODE, "train", str(config), f"output_dir={run_dir}",
         "trainer.max_steps=2", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0"],
        capture_output=True, text=True, check=True, env=env,
    )
    return run_dir


def bench_sample(run_dir: Path, repeats: int, out: Path, n: int) -> None:
    """``genloom sample RUN --n N`` against ``python -c "import torch"``: medians, ratio
    (the two interleaved, so a change in the machine's load hits both alike)."""
    cmd = ["sample", str(run_dir), "--n", str(n), "--out", str(out)]
    _, torch_in, light_in = run(cmd)  # one run under -X importtime: what it imported
    torch_times, sample_times = [], []
    for _ in range(repeats):
        torch_times.append(wall([sys.executable, "-c", "import torch"]))
        sample_times.append(wall([sys.executable, "-c", CODE, *cmd]))
    t_torch, t_sample = statistics.median(torch_times), statistics.median(sample_times)
    print(f"genloom sample RUN --n {n:<3}{t_sample:9.3f} {str(torch_in):>7} {str(light_in):>11}")
    print(f"python -c 'import torch'  {t_torch:9.3f}")
    print(f"ratio sample --n {n} / import torch: {t_sample / t_torch:.2f} (target 1.3; load {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run", type=Path, default=None,
                        help="run directory or checkpoint to sample (default: train a tiny one)")
    parser.add_argument("--n", type=int, nargs="+", default=[1, 16], help="samples per timed `genloom sample`")
    args = parser.parse_args()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    torch_alone = time.perf_counter() - start
    print(f"{'command':<24} {'median s':>9} {'torch?':>7} {'lightning?':>11}")
    for cmd in (["--help"], ["plugins"], ["list"]):
        times, torch_in, light_in = [], False, False
        for _ in range(args.repeats):
            t, a, b = run(cmd)
            times.append(t)
            torch_in, light_in = torch_in or a, light_in or b
        print(f"genloom {' '.join(cmd):<16} {statistics.median(times):9.3f} "
              f"{str(torch_in):>7} {str(light_in):>11}")
    print(f"for scale: python -c 'import torch' took {torch_alone:.3f} s")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or tiny_run(Path(tmp))
        for n in args.n:
            bench_sample(run_dir, args.repeats, Path(tmp) / "samples.png", n)


if __name__ == "__main__":
    main()
