"""CLI start-up: wall time of `genloom plugins` / `--help` / `list`, and whether torch
or lightning got imported (they must not be).

Run: .venv/bin/python tests/benchmarks/bench_cli_start.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
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


if __name__ == "__main__":
    main()
