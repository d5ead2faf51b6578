"""``genloom bench``: train several model families on one dataset under the same budget,
for several seeds, evaluate every run, and tabulate mean and spread per metric.

Why: a metric value alone says little; the same metric for a rival family trained
for as long, next to the real-data floor, says whether a model is any good.

Each (family, dataset) pair uses the recipe the family's plugin ships as
``<family>-<data>`` (``--data text`` reads the ``-pydoc`` recipes), or a folder of
``<family>-<data>.yaml`` files (``--configs``), so the bench trains what the recipes
document, from any folder. The budget is equal training batches
(``--steps``: ``trainer.max_steps``, which counts batches for every model, a GAN's
too) or equal wall-clock seconds (``--budget``:
Lightning's ``trainer.max_time``, which also counts validation and sample grids; a
run also ends at its config's ``max_epochs``, the horizon of its learning-rate
schedule).
Every run is evaluated by :func:`genloom_eval.evaluation.evaluate_checkpoint`, the code
behind ``genloom evaluate``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.atomic import write_atomic
from genloom.errors import ConfigError, GenloomError
from genloom.registry import install_hint

#: ``--data`` names whose example configs carry another suffix
DATA_SUFFIX = {"text": "pydoc"}
#: rows left out of the Markdown table (they stay in the JSON): one per class
HIDDEN_ROWS = re.compile(r"test/class_share_\d+$")
FILES = ("bench.md", "bench.json", "runs")


@dataclass
class Budget:
    """Equal training batches, or equal wall-clock seconds, per run."""

    steps: int | None = None
    seconds: float | None = None

    def overrides(self, timed_by_callback: bool = False) -> list[str]:
        """The trainer settings that impose this budget (and lift every other limit).

        ``timed_by_callback``: a ``--until`` callback keeps the time budget itself (its
        clock stops while it checks), so ``trainer.max_time`` is not set."""
        if self.steps is not None:
            return ["trainer.max_epochs=-1", f"trainer.max_steps={self.steps}"]
        # the config's max_epochs stays: it is the learning-rate schedule's horizon (with no
        # end in sight, a cosine schedule would decay to its floor after one step)
        if timed_by_callback:
            return ["trainer.max_steps=-1"]
        return ["trainer.max_steps=-1", f"trainer.max_time={{seconds: {self.seconds}}}"]

    def describe(self) -> str:
        if self.steps is not None:
            return f"{self.steps} training batches per run"
        return f"at most {self.seconds:g} s of wall-clock training per run (or the config's epochs)"


def parse_budget(steps: int | None, budget: str | None) -> Budget:
    """Exactly one of ``--steps N`` and ``--budget 180s`` (also ``3m``, ``90``)."""
    if (steps is None) == (budget is None):
        raise ConfigError("give exactly one budget: --steps N (training batches) or --budget 180s (wall clock)")
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps {steps}: give at least 1")
        return Budget(steps=steps)
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min)?\s*", budget or "")
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"--budget '{budget}': give a positive duration such as 180s, 3m or 90")
    seconds = float(found.group(1)) * (60 if found.group(2) in ("m", "min") else 1)
    return Budget(seconds=seconds)


def _recipes(configs: Path | None) -> dict[str, Path]:
    """``{FAMILY-DATA: file}``: the YAML files in ``configs``, or (None) the recipes the
    installed plugins ship, by their registered names."""
    if configs is not None:
        if not configs.is_dir():
            raise ConfigError(f"no config folder '{configs}'; pass --configs DIR, a folder of "
                              "FAMILY-DATA.yaml files, or leave it out to use the installed recipes")
        return {p.stem: p for p in sorted(configs.glob("*-*.yaml"))}
    from genloom.config import config_file
    from genloom.plugins import get_registry

    names = sorted({c.name for c in get_registry().components("config")})
    return {name: config_file(name) for name in names if "-" in name}


def _where(configs: Path | None) -> str:
    return str(configs) if configs is not None else "the installed plugins' recipes"


def available(configs: Path | None) -> dict[str, list[str]]:
    """``{data suffix: [family, ...]}`` for every ``FAMILY-DATA`` recipe in ``configs``
    (None: the installed plugins' packaged recipes)."""
    found: dict[str, list[str]] = {}
    for stem in _recipes(configs):
        family, _, data = stem.rpartition("-")
        found.setdefault(data, []).append(family)
    return found


def config_path(configs: Path | None, family: str, data: str) -> Path:
    """The config for ``family`` on ``data``; a one-line error listing what exists."""
    recipes = _recipes(configs)
    suffix = DATA_SUFFIX.get(data, data)
    name = f"{family}-{suffix}"
    if name in recipes:
        return recipes[name]
    pairs = available(configs)
    # a recipe of one of genloom's own plugins that is not installed: say which to install
    hint = install_hint("config", name) if configs is None else ""
    if suffix in pairs:
        raise ConfigError(
            f"no config for --models {family} on --data {data} (no {name} in {_where(configs)}){hint}; "
            f"for --data {data} there are: {', '.join(pairs[suffix])}"
        )
    names = sorted({next((k for k, v in DATA_SUFFIX.items() if v == d), d) for d in pairs})
    raise ConfigError(f"no configs for --data {data} in {_where(configs)}{hint}; choose one of {', '.join(names)}")


def split_overrides(items: Sequence[str], families: Sequence[str]) -> dict[str, list[str]]:
    """``--set KEY=VALUE`` for every family, ``--set FAMILY:KEY=VALUE`` for one."""
    per: dict[str, list[str]] = {f: [] for f in families}
    for item in items:
        key, eq, _ = item.partition("=")
        if not eq:
            raise ConfigError(f"--set '{item}': give KEY=VALUE (or FAMILY:KEY=VALUE for one family)")
        family, colon, rest = key.partition(":")
        if colon and "." not in family:
            if family not in per:
                raise ConfigError(f"--set '{item}': '{family}' is not among --models {','.join(families)}")
            per[family].append(item[len(family) + 1 :])
        else:
            for overrides in per.values():
                overrides.append(item)
    return per


@dataclass
class RunResult:
    """One trained and evaluated run."""

    family: str
    seed: int
    run_dir: str
    config: str
    wall_s: float
    eval_s: float
    params: int
    steps: int
    batches: int
    metrics: dict[str, float] = field(default_factory=dict)
    #: with ``--until``: every check, and when the target was first met (TargetLog.as_dict)
    until: dict[str, Any] | None = None
    #: the run's ``energy.json`` (genloom_eval.energy): Wh, CO2 grams and the method
    energy: dict[str, Any] | None = None


def _spread(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one value); NaNs are left out."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "n": len(finite)}


def summarise(runs: list[RunResult], families: Sequence[str]) -> dict[str, Any]:
    """Per family: mean and spread over seeds of every metric, its floor, wall time,
    parameters and steps."""
    summary: dict[str, Any] = {}
    for family in families:
        mine = [r for r in runs if r.family == family]
        keys = list(dict.fromkeys(k for r in mine for k in r.metrics))
        summary[family] = {
            "metrics": {k: _spread([r.metrics[k] for r in mine if k in r.metrics]) for k in keys},
            "wall_s": _spread([r.wall_s for r in mine]),
            "steps": _spread([float(r.steps) for r in mine]),
            "batches": _spread([float(r.batches) for r in mine]),
            "params": mine[0].params if mine else 0,
            "energy_wh": _spread([r.energy["wh"] for r in mine if r.energy]),
            "co2_g": _spread([r.energy["co2_g"] for r in mine if r.energy]),
            "energy_method": next((r.energy["method"] for r in mine if r.energy), None),
            "grid": next((f"{r.energy['grid']} ({r.energy['grid_g_per_kwh']:g} gCO2/kWh)"
                          for r in mine if r.energy), None),
        }
        logs = [r.until for r in mine if r.until is not None]
        if logs:
            hit = [log for log in logs if log["reached_s"] is not None]
            summary[family]["until"] = {
                "reached": len(hit), "runs": len(logs),
                "seconds": _spread([log["reached_s"] for log in hit]),
                "steps": _spread([float(log["reached_step"]) for log in hit]),
                "best": _spread([log["best"] for log in logs if log["best"] is not None]),
            }
    return summary


def _fmt(stat: dict[str, float] | None, digits: int = 4) -> str:
    if stat is None or not stat["n"]:
        return "–"
    text = f"{stat['mean']:.{digits}g}"
    return text + (f" ± {stat['std']:.2g}" if stat["n"] > 1 else "")


def markdown(report: dict[str, Any]) -> str:
    """The bench as a Markdown table: one row per metric, a column per family."""
    families, summary = report["models"], report["summary"]
    metric_keys = list(dict.fromkeys(
        k for f in families for k in summary[f]["metrics"]
        if not k.endswith("_floor") and not HIDDEN_ROWS.match(k)
    ))
    load = report["machine"]
    lines = [
        f"**{report['data']}**: {report['budget']['text']}, seeds {', '.join(map(str, report['seeds']))}; "
        f"mean ± standard deviation over seeds; floor: the metric for held-out real data.  ",
        "data (the same for every family; batch size and pad from each config): "
        + ", ".join(f"{k}={v}" for k, v in report["data_config"].items() if v is not None) + "  ",
        f"`{report['command']}`  ",
        f"{load['cpus']} CPUs, load average {load['load_before']:.2f} before, "
        f"{load['load_after']:.2f} after; {report['elapsed_s']:.0f} s in all.",
        "",
        "| metric | floor | " + " | ".join(families) + " |",
        "|---|---|" + "---|" * len(families),
    ]
    for key in metric_keys:
        floors = [summary[f]["metrics"].get(f"{key}_floor") for f in families]
        floor = next((s for s in floors if s is not None), None)
        cells = [_fmt(summary[f]["metrics"].get(key)) for f in families]
        lines.append(f"| {key} | {_fmt(floor)} | " + " | ".join(cells) + " |")
    if report.get("until"):
        target = report["until"]["target"]
        until = [summary[f].get("until") for f in families]
        lines.append(f"| reached {target} | | " + " | ".join(
            f"{u['reached']}/{u['runs']}" if u else "–" for u in until) + " |")
        lines.append(f"| training s to {target} | | " + " | ".join(
            _fmt(u["seconds"], 3) if u else "–" for u in until) + " |")
        lines.append(f"| steps to {target} | | " + " | ".join(
            _fmt(u["steps"], 6) if u else "–" for u in until) + " |")
        lines.append(f"| best {target.split('<')[0].split('>')[0]} while checked | | " + " | ".join(
            _fmt(u["best"]) if u else "–" for u in until) + " |")
    lines.append("| wall time (s) | | " + " | ".join(_fmt(summary[f]["wall_s"], 3) for f in families) + " |")
    lines.append("| optimizer steps | | " + " | ".join(_fmt(summary[f]["steps"], 6) for f in families) + " |")
    lines.append("| batches | | " + " | ".join(_fmt(summary[f]["batches"], 6) for f in families) + " |")
    lines.append("| parameters | | " + " | ".join(f"{summary[f]['params']:,}" for f in families) + " |")
    if any(summary[f].get("energy_method") for f in families):
        lines.append("| training energy (Wh) | | " + " | ".join(
            _fmt(summary[f].get("energy_wh"), 3) for f in families) + " |")
        lines.append("| training CO2 (g) | | " + " | ".join(
            _fmt(summary[f].get("co2_g"), 3) for f in families) + " |")
        methods = list(dict.fromkeys(summary[f]["energy_method"] for f in families if summary[f].get("energy_method")))
        grids = list(dict.fromkeys(summary[f]["grid"] for f in families if summary[f].get("grid")))
        lines += ["", f"Energy: {'; '.join(methods)}. CO2: energy x grid {', '.join(grids)}."]
    return "\n".join(lines) + "\n"


#: data keys each family keeps from its own config: how it is fed, not what it sees
#: (its batch size, an optimizer setting; ``pad``, the border a network needs for a
#: power-of-two size: ``gan-mnist`` pads 28x28 to 32x32, which image metrics crop away)
OWN_DATA_KEYS = ("batch_size", "pad")


def same_data(cfg: Any, shared: dict[str, Any] | None) -> dict[str, Any]:
    """Give ``cfg`` the data section ``shared`` (the first family's, except
    :data:`OWN_DATA_KEYS`).

    The example configs of one dataset differ in details (``vae-toy2d`` draws moons,
    ``gan-toy2d`` eight Gaussians); compared on different data, families and floors
    would mean nothing.
    """
    from omegaconf import OmegaConf

    own = OmegaConf.to_container(cfg.data, resolve=True)
    if shared is None:
        return {k: v for k, v in own.items() if k not in OWN_DATA_KEYS}
    if own.get("name") != shared.get("name"):
        raise ConfigError(f"the configs name different datasets: {shared.get('name')} and {own.get('name')}")
    for key, value in shared.items():
        cfg.data[key] = value
    return shared


def _prepare_out(out: Path, force: bool) -> None:
    """Refuse to replace an earlier bench in ``out`` unless ``force``; with it, remove it."""
    existing = [out / name for name in FILES if (out / name).exists()]
    if existing and not force:
        raise GenloomError(
            f"'{out}' already holds a bench ({existing[0]}); pass --force to replace it or --out DIR"
        )
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _train_and_evaluate(
    cfg: Any, family: str, config: Path, run_dir: Path, n: int | None, until: Any = None
) -> RunResult:
    from genloom_eval.energy import read_run_energy
    from genloom_eval.evaluation import evaluate_checkpoint
    from genloom.training import train

    watcher = until() if until is not None else None
    start = time.monotonic()
    result = train(cfg, name=f"{family}-{cfg.seed}", echo=None, callbacks=[watcher] if watcher else [])
    wall = time.monotonic() - start - (watcher.paused if watcher else 0.0)
    trainer = result.trainer
    batches = trainer.fit_loop.epoch_loop.batch_progress.total.completed
    params = sum(p.numel() for p in result.model.parameters())
    start = time.monotonic()
    metrics = evaluate_checkpoint(result.checkpoint, n=n)
    return RunResult(
        family=family, seed=int(cfg.seed), run_dir=str(run_dir), config=str(config), wall_s=wall,
        eval_s=time.monotonic() - start, params=int(params), steps=int(trainer.global_step),
        batches=int(batches), metrics={k: float(v) for k, v in metrics.items()},
        until=watcher.history.as_dict() if watcher else None, energy=read_run_energy(result.run_dir),
    )


def run_bench(
    data: str,
    models: Sequence[str],
    budget: Budget,
    seeds: int,
    out: Path,
    overrides: Sequence[str] = (),
    n: int | None = None,
    configs: Path | None = None,
    force: bool = False,
    command: str = "",
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    until: str | None = None,
    every: str = "30s",
) -> dict[str, Any]:
    """Train and evaluate every family in ``models`` for seeds ``0..seeds-1``; write
    ``out/bench.md``, ``out/bench.json`` and the runs under ``out/runs/``; return the report.

    With ``until`` (``"fid<=3x"``, ``"val/bpc<=2.08"``: :mod:`genloom_eval.bench_target`)
    each run is checked every ``every`` of training time and stops at the target; the
    table gains the training seconds and steps to reach it.

    Every config is loaded and validated before anything trains, so a bad pair or a
    bad override fails in a second, not after the first runs.
    """
    from genloom.config import load_config

    families = list(dict.fromkeys(m.strip() for m in models if m.strip()))
    if not families:
        raise ConfigError("--models is empty; give families such as --models vae,gan,diffusion")
    if not 1 <= seeds <= 2**32:  # seeds 0..seeds-1 must be valid run seeds
        raise ConfigError(f"--seeds {seeds}: give 1 to {2**32} runs per family")
    if n is not None and n < 2:
        raise ConfigError(f"--n {n}: give at least 2")
    watch = None
    if until is not None:
        from functools import partial

        from genloom_eval.bench_target import parse_every, parse_target, until_callback

        watch = partial(until_callback, parse_target(until), parse_every(every), n, budget.seconds)
    per_family = split_overrides(overrides, families)
    for item in overrides:  # FAMILY:data.KEY=VALUE would make the families' data differ
        family, colon, rest = item.partition("=")[0].partition(":")
        if colon and rest.startswith("data.") and rest.removeprefix("data.") not in OWN_DATA_KEYS:
            raise ConfigError(
                f"--set {item}: every family trains on the same data; set it for all with "
                f"--set {item[len(family) + 1:]}"
            )
    plan = []
    shared: dict[str, Any] | None = None  # the first family's data section, OWN_DATA_KEYS aside
    for family in families:
        path = config_path(configs, family, data)
        for seed in range(seeds):
            run_dir = out / "runs" / f"{family}-seed{seed}"
            cfg = load_config(path, [
                *per_family[family], *budget.overrides(watch is not None), f"seed={seed}", f"output_dir={run_dir}",
                "trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0",
                "checkpoint.every_n_steps=0",
            ])
            shared = same_data(cfg, shared)
            plan.append((family, path, run_dir, cfg))
    _prepare_out(out, force)
    load_before, started = os.getloadavg()[0], time.monotonic()
    runs: list[RunResult] = []
    for i, (family, path, run_dir, cfg) in enumerate(plan, 1):
        run = _train_and_evaluate(cfg, family, path, run_dir, n, watch)
        runs.append(run)
        reached = ""
        if run.until is not None:
            reached = (f", {until} at {run.until['reached_s']:.1f} s (step {run.until['reached_step']})"
                       if run.until["reached_s"] is not None else f", {until} not reached (best {run.until['best']})")
        progress(
            f"bench [{i}/{len(plan)}] {family} seed {run.seed}: {run.steps} steps in {run.wall_s:.1f} s"
            f"{reached}, evaluated in {run.eval_s:.1f} s ({run_dir})"
        )
    report: dict[str, Any] = {
        "data": data,
        "models": families,
        "seeds": list(range(seeds)),
        "budget": {"steps": budget.steps, "seconds": budget.seconds, "text": budget.describe()},
        "until": None if until is None else {"target": until, "every_s": watch.args[1]},
        "n": n,
        "data_config": shared,
        "overrides": list(overrides),
        "command": command,
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0]},
        "elapsed_s": time.monotonic() - started,
        "summary": summarise(runs, families),
        "runs": [vars(r) for r in runs],
    }
    report["markdown"] = markdown(report)
    write_atomic(out / "bench.json", json.dumps(report, indent=2, allow_nan=True) + "\n")
    write_atomic(out / "bench.md", report["markdown"])
    return report
