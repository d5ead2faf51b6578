"""Diffusion objectives at equal training time on MNIST, and the quality cost of fewer
sampling steps: what issue 21's "good samples in minutes" asks of the diffusion library.

Run: .venv/bin/python tests/benchmarks/bench_diffusion_objectives.py [--seconds 300]
     [--threads 2] [--n 500] [--objectives eps,v,v_min_snr,flow] [--quick]

Every objective trains the packaged ``flow-mnist`` recipe's network (a residual MLP of
width 1024, batch 128, the recipe's optimizer) for the same wall-clock budget
(``trainer.max_time``; the cosine learning-rate schedule spans the recipe's epochs, so a
run stopped by the clock has not decayed it), then ``genloom evaluate``'s metrics score
it on held-out MNIST in the shipped classifier's features:

* ``eps``       -- diffusion, cosine schedule, noise prediction (the old recipe's objective),
  sampled with DPM-Solver++ (2M) on Karras sigmas, 20 steps;
* ``v``         -- the same with v-prediction;
* ``v_min_snr`` -- v-prediction with min-SNR-5 loss weighting;
* ``flow``      -- flow matching (rectified flow), logit-normal times, 20 Euler steps.

Then the step sweep: FID and sampling seconds of the flow model with flow_euler and
flow_heun, and of the eps model with DPM-Solver++ (Karras) and DDIM, at several step
counts. Prints tables: FID, its real-data floor, FID / floor, the rarest class's share
(the target asks for >= 5 %), steps trained, CPU seconds, and the machine's load
before and after. Asserts nothing; timings depend on the machine and on what else runs
on it (the table in docs/results.md says under what load it was taken).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import tempfile
import time

import torch

from genloom import load_config, train

OBJECTIVES = {
    "eps": (["model.objective=diffusion", "model.schedule.name=cosine", "model.denoiser.prediction=eps"],
            ("dpmpp_2m", {"steps": 20, "karras": True})),
    "v": (["model.objective=diffusion", "model.schedule.name=cosine", "model.denoiser.prediction=v"],
          ("dpmpp_2m", {"steps": 20, "karras": True})),
    "v_min_snr": (["model.objective=diffusion", "model.schedule.name=cosine", "model.denoiser.prediction=v",
                   "model.loss_weighting=min_snr", "model.min_snr_gamma=5"],
                  ("dpmpp_2m", {"steps": 20, "karras": True})),
    "flow": (["model.objective=flow", "model.denoiser.prediction=v"], ("flow_euler", {"steps": 20})),
}

SWEEPS = {
    "flow": [("flow_euler", {"steps": s}) for s in (4, 8, 20, 50)]
    + [("flow_heun", {"steps": s}) for s in (4, 10)],
    "eps": [("dpmpp_2m", {"steps": s, "karras": True}) for s in (5, 10, 20)]
    + [("dpmpp_2m", {"steps": 20})] + [("ddim", {"steps": s}) for s in (20, 50)],
}


def cpu_seconds() -> float:
    """CPU seconds this process and its finished children have used."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def train_for(objective: str, seconds: float, out: str):
    """Train the flow-mnist network with ``objective`` for ``seconds`` of wall clock."""
    overrides, _ = OBJECTIVES[objective]
    cfg = load_config("flow-mnist", [
        *overrides, f"output_dir={out}/{objective}", f"trainer.max_time=00:00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}",
        "trainer.max_epochs=1000", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
        "checkpoint.every_n_epochs=0",
    ])
    start, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stderr(io.StringIO()):
        result = train(cfg, echo=None)
    return result.model.eval(), result, time.perf_counter() - start, cpu_seconds() - cpu


def score(model, sampler: str, options: dict, n: int) -> tuple[dict[str, float], float]:
    """``genloom evaluate``'s fid and classes metrics with ``sampler`` and ``options``."""
    from genloom_eval.evaluation import evaluate_model

    plain = model.sample
    timing = []

    def sample(count, **kwargs):
        start = time.perf_counter()
        out = plain(count, sampler=sampler, **options, **kwargs)
        timing.append((count, time.perf_counter() - start))
        return out

    model.sample = sample
    try:
        results = evaluate_model(model, ["fid", "classes"], n=n)
    finally:
        model.sample = plain
    count, took = timing[0]
    return results, took / count * 100  # seconds per 100 samples


def fmt_row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="training wall-clock budget per objective")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=500, help="samples per evaluation")
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--quick", action="store_true", help="20 s per objective, 100 samples: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.n = 20, 100
    torch.set_num_threads(args.threads)
    chosen = [o.strip() for o in args.objectives.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in OBJECTIVES]
    if unknown:
        parser.error(f"unknown objective(s) {', '.join(unknown)}; choose from {', '.join(OBJECTIVES)}")
    load_before = os.getloadavg()[0]
    rows, models = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for objective in chosen:
            model, result, wall, cpu = train_for(objective, args.seconds, tmp)
            steps = int(result.trainer.global_step)
            sampler, options = OBJECTIVES[objective][1]
            metrics, per100 = score(model, sampler, options, args.n)
            fid, floor = metrics["test/fid"], metrics["test/fid_floor"]
            rows.append([objective, steps, f"{wall:.0f}", f"{cpu:.0f}", f"{fid:.1f}", f"{floor:.1f}",
                         f"{fid / floor:.2f}", f"{metrics['test/class_min_share']:.3f}",
                         f"{sampler} {options}", f"{per100:.2f}"])
            models[objective] = model
            print(fmt_row(rows[-1]), flush=True)
        print(f"\n## objectives at equal training time ({args.seconds:.0f} s each, {args.threads} threads, "
              f"{args.n} samples)\n")
        print(fmt_row(["objective", "steps", "wall s", "CPU s", "FID", "floor", "FID/floor",
                       "rarest class", "sampler", "s / 100 samples"]))
        print(fmt_row(["---"] * 10))
        for row in rows:
            print(fmt_row(row))
        for objective, sweep in SWEEPS.items():
            if objective not in models:
                continue
            print(f"\n## the quality cost of fewer steps ({objective} model)\n")
            print(fmt_row(["sampler", "options", "FID", "FID/floor", "rarest class", "s / 100 samples"]))
            print(fmt_row(["---"] * 6))
            for sampler, options in sweep:
                metrics, per100 = score(models[objective], sampler, options, args.n)
                fid, floor = metrics["test/fid"], metrics["test/fid_floor"]
                print(fmt_row([sampler, options, f"{fid:.1f}", f"{fid / floor:.2f}",
                               f"{metrics['test/class_min_share']:.3f}", f"{per100:.2f}"]), flush=True)
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
