"""`genloom evaluate RUN` wall time on every packaged image, text, video, t2i and music
recipe at its default sample count, against issue 21's target of 60 s.

Each recipe is trained for a few steps first (``--steps``; untimed: only the evaluation's
cost is measured, which depends on the network and the sampler, not on how well it is
trained), then ``genloom evaluate RUN --json`` runs as a fresh process, start-up
included. The table gives the recipe, the samples evaluate draws, the sampler and its
steps (the run's ``sample.sampler``/``sample.options``, which evaluation uses), the
seconds, their ratio to 60 s and the 1-minute load average when it ran (the machine may be
shared: compare ratios of runs made under the same load).

``--quality NAME`` measures what the few-step evaluation sampler costs in quality
instead: NAME is trained for ``--quality-steps`` steps, then FID (and its real-data floor)
of that one checkpoint is computed with each sampler in ``--samplers``, with seconds.

Run:
  .venv/bin/python tests/benchmarks/bench_evaluate_time.py [--only NAME ...] [--steps 20]
  .venv/bin/python tests/benchmarks/bench_evaluate_time.py --quality diffusion-digits \\
      --quality-steps 600 --samplers "ddim steps=50" "dpmpp_2m steps=15" "dpmpp_2m steps=15 karras=true"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CODE = "import sys; from genloom.cli import main; sys.argv=['genloom', *sys.argv[1:]]; main()"
TARGET_S = 60.0
#: packaged recipes whose data are not images, text, video, captioned images or music
SKIP_SUFFIXES = ("-toy2d",)
#: recipes that start from another run: (the run to train first, the override naming it)
NEEDS = {
    "diffusion-latent-vae": ("vae-digits", "model.latent.checkpoint"),
    "vq-prior-digits": ("vqvae-digits", "model.first_stage.checkpoint"),
}


def recipes() -> list[str]:
    """Every packaged recipe (``genloom list configs``) but the 2-D point ones."""
    from genloom.plugins import get_registry

    short = sorted({c.name for c in get_registry().components("config")})
    return [n for n in short if not n.endswith(SKIP_SUFFIXES)]


def genloom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, env=env)


def train(name: str, folder: Path, steps: int, extra: tuple[str, ...] = ()) -> Path:
    """``name`` trained for ``steps`` steps into ``folder/name`` (its prerequisite first)."""
    run_dir = folder / name
    if (run_dir / "config.yaml").exists():
        return run_dir
    overrides = list(extra)
    if name in NEEDS:
        first, key = NEEDS[name]
        overrides.append(f"{key}={train(first, folder, steps)}")
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    result = genloom("train", name, f"output_dir={run_dir}", f"trainer.max_steps={steps}",
                     "trainer.max_epochs=-1", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
                     *overrides, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"training {name} failed: {result.stderr.strip().splitlines()[-1:]}")
    return run_dir


def describe(run_dir: Path) -> tuple[int, str]:
    """(samples evaluate draws by default, "sampler steps") of a run, read as evaluate does."""
    import torch  # noqa: F401  (load_checkpoint needs it)

    from genloom.build import build_dataset
    from genloom.checkpoints import load_checkpoint
    from genloom.data.base import adopt_saved_tokenizer
    from genloom.data.splits import DataSplits
    from genloom.sampling import default_sampler_of, get_sampler

    model = load_checkpoint(str(run_dir))
    dataset = build_dataset(model.run_cfg)
    adopt_saved_tokenizer(dataset, model.info.tokenizer)
    splits = DataSplits(dataset, model.run_cfg.data)
    if model.info.tokenizer:
        from genloom_eval.metrics.c2st import DEFAULT_TEXT_N, token_windows

        n = min(DEFAULT_TEXT_N, len(token_windows(splits.split("test"), int(model.info.shape[0]))))
    else:
        n = len(splits.split("test"))
    sample = model.run_cfg.get("sample") or {}
    name = sample.get("sampler") or None
    options = dict(sample.get("options") or {})
    try:
        sampler = get_sampler(name) if name else default_sampler_of(model)
    except Exception:  # a model without a sampler of its own (a first stage)
        return n, "-"
    label = getattr(sampler, "label", None) or type(sampler).__name__
    steps = options.get("steps", getattr(sampler, "default_steps", None))
    extra = "".join(f" {k}={v}" for k, v in options.items() if k in ("karras", "guidance"))
    return n, f"{label}" + (f" {steps}" if steps else "") + extra


def time_evaluate(run_dir: Path, args: tuple[str, ...] = ()) -> tuple[float, float, dict[str, Any]]:
    """(seconds, load average at the start, the JSON it printed) of ``genloom evaluate``."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = genloom("evaluate", str(run_dir), "--json", *args)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    return elapsed, load, json.loads(result.stdout)


def bench_times(names: list[str], folder: Path, steps: int) -> None:
    print(f"{'recipe':<28} {'samples':>7} {'sampler steps':<30} {'seconds':>8} {'/60 s':>6} {'load':>5}")
    for name in names:
        try:
            run_dir = train(name, folder, steps)
            seconds, load, _ = time_evaluate(run_dir)
            n, sampler = describe(run_dir)
        except RuntimeError as exc:
            print(f"{name:<28} skipped: {exc}")
            continue
        mark = "" if seconds <= TARGET_S else "  over"
        print(f"{name:<28} {n:>7} {sampler:<30} {seconds:8.1f} {seconds / TARGET_S:6.2f} {load:5.2f}{mark}",
              flush=True)


def parse_sampler(text: str) -> tuple[str, dict[str, Any]]:
    """``"dpmpp_2m steps=15 karras=true"`` as ``("dpmpp_2m", {"steps": 15, "karras": True})``."""
    import yaml

    name, *items = text.split()
    options = {}
    for item in items:
        key, _, value = item.partition("=")
        options[key] = yaml.safe_load(value)
    return name, options


def bench_quality(name: str, folder: Path, steps: int, samplers: list[str], n: int | None) -> None:
    """FID of one trained checkpoint of ``name`` with each sampler: what fewer steps cost."""
    from omegaconf import OmegaConf

    from genloom.checkpoints import load_checkpoint
    from genloom_eval.evaluation import evaluate_model

    run_dir = train(name, folder, steps)
    print(f"{name} trained {steps} steps; FID on {n or 'the test split'} samples (load {os.getloadavg()[0]:.2f})")
    print(f"{'sampler':<32} {'FID':>8} {'floor':>8} {'FID/floor':>9} {'seconds':>8}")
    for text in samplers:
        sampler, options = parse_sampler(text)
        model = load_checkpoint(str(run_dir))
        OmegaConf.set_readonly(model.run_cfg, False)
        model.run_cfg.sample.sampler = sampler
        model.run_cfg.sample.options = options
        start = time.perf_counter()
        result = evaluate_model(model, ["fid"], n)
        seconds = time.perf_counter() - start
        fid, floor = result["test/fid"], result["test/fid_floor"]
        print(f"{text:<32} {fid:8.2f} {floor:8.2f} {fid / floor:9.2f} {seconds:8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="time only these recipes")
    parser.add_argument("--steps", type=int, default=20, help="training steps before timing (untimed)")
    parser.add_argument("--dir", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--quality", default=None, metavar="NAME",
                        help="instead of timing: FID of NAME with each of --samplers")
    parser.add_argument("--quality-steps", type=int, default=600)
    parser.add_argument("--samplers", nargs="+", default=["ddim steps=50", "dpmpp_2m steps=15", "dpmpp_2m steps=10"])
    parser.add_argument("--n", type=int, default=None, help="--quality: samples for FID (default: test split)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.quality:
            bench_quality(args.quality, folder, args.quality_steps, args.samplers, args.n)
            return
        names = recipes()
        unknown = sorted(set(args.only or ()) - set(names))
        if unknown:
            sys.exit(f"--only {unknown[0]}: not a packaged recipe; choose from {', '.join(names)}")
        bench_times(args.only or names, folder, args.steps)


if __name__ == "__main__":
    main()
