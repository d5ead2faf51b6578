"""The ``genloom`` command line. Commands that only look at what is installed import
neither torch nor lightning; user errors print one line and exit 2 (``--debug``: traceback).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from genloom import __version__
from genloom.errors import GenloomError

FALSY = ("", "0", "false", "no", "off")


def _host() -> Any:
    from genloom.plugins import get_plugin_host

    return get_plugin_host()


class Commands(click.Group):
    """A command group where a command one of genloom's own distributions adds (``genloom serve``,
    ``genloom plugins check``) says what to install when that distribution is missing."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from genloom.registry import install_hint

            hint = install_hint("command", " ".join([*ctx.command_path.split()[1:], name]))
            if hint:
                raise click.UsageError(f"no command '{name}'{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genloom")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """genloom: train, sample and evaluate generative models from YAML configs.

    \b
    Every architecture is a plugin; see what is installed with
      genloom plugins          installed plugins and their status
      genloom list models      components you can name in a config
    and train one with
      genloom train vae-digits optim.lr=3e-4     (an example config; genloom list configs)
    """


# -- plugins and components -------------------------------------------------------------


@cli.group(cls=Commands, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: version, status, components and import time.

    Status is ok, broken (failed to import or register: the error is shown),
    incompatible (its genloom requirement excludes this core) or disabled
    (GENLOOM_PLUGINS / GENLOOM_DISABLE_PLUGINS). 'genloom plugins check' (from the
    genloom-devkit distribution) looks deeper.
    """
    if ctx.invoked_subcommand is not None:
        return
    infos = list(_host().plugins.values())
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    click.echo(f"{'plugin':<16} {'version':<10} {'status':<13} {'import':>8}  components")
    for i in infos:
        comps = ", ".join(i.components) if i.components else "-"
        click.echo(f"{i.name:<16} {i.version:<10} {i.status:<13} {i.import_seconds * 1000:>6.1f}ms  {comps}")
        if i.error:
            click.echo(f"{'':<16} error: {i.error}")
        if i.note:
            click.echo(f"{'':<16} note: {i.note}")


@cli.command("list")
@click.argument("kind", required=False)
def list_components(kind: str | None) -> None:
    """List registered components, optionally of one KIND.

    KIND is one of models, samplers, datasets, metrics, encoders, generators,
    denoisers, tokenizers, sample_kinds, or a kind a plugin adds (discriminators,
    noise_schedules), singular or plural. Short names work in configs while they are unique;
    full names (plugin:name) always do.
    """
    registry = _host().registry
    if kind is None:
        kinds = registry.kinds()
    else:
        k = _singular(kind, registry.kinds())
        if k not in registry.kinds():
            raise GenloomError(f"unknown kind '{kind}'; choose one of "
                               f"{', '.join(sorted(_plural(k) for k in registry.kinds()))}")
        kinds = [k]
    for k in kinds:
        comps = registry.components(k)
        click.echo(f"{_plural(k)}:")
        if not comps:
            click.echo("  (none)")
        for c in comps:
            click.echo(f"  {c.full_name:<24} {c.help}")


def _plural(kind: str) -> str:
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


def _singular(kind: str, kinds: list[str]) -> str:
    """The kind named, singular or plural (models, noise_schedules, energies)."""
    return next((k for k in kinds if _plural(k) == kind), kind)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env(as_json: bool) -> None:
    """Print versions and devices for a bug report: Python, torch, Lightning, genloom,
    every plugin (name, version, status), OS, CPUs, CUDA and MPS."""
    from genloom.environment import collect, format_report

    report = collect()
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


# -- config -----------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Inspect configurations."""


@config.command("show")
@click.argument("name")
@click.argument("overrides", nargs=-1)
@click.option("--kind", default="model", show_default=True,
              help="Component kind of NAME (model, dataset, encoder, ...).")
def config_show(name: str, overrides: tuple[str, ...], kind: str) -> None:
    """Print the defaults of component NAME, or a config file fully resolved.

    \b
    genloom config show vae                      the VAE's options and defaults
    genloom config show toy2d --kind dataset     a dataset's options
    genloom config show run.yaml optim.lr=1e-4   what a run would use
    """
    from omegaconf import OmegaConf

    from genloom.config import Sources, load_config, resolve_component

    if name.endswith((".yaml", ".yml")):
        cfg = load_config(name, overrides, check_trainer=False, import_classes=False)
    else:
        from genloom.config import DataSection

        kind = _singular(kind, _host().registry.kinds())
        cfg = resolve_component(kind, name, "data" if kind == "dataset" else kind,
                                Sources(None, OmegaConf.create(), []),
                                common=DataSection if kind == "dataset" else None)
    click.echo(OmegaConf.to_yaml(cfg), nl=False)


@config.command("init")
@click.argument("name")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: NAME.yaml in the current directory).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def config_init(name: str, out: str | None, force: bool) -> None:
    """Copy the example config NAME (see 'genloom list configs') to a file to edit.

    \b
    genloom config init gan-digits               writes gan-digits.yaml
    genloom config init vae-digits --out my.yaml
    """
    from genloom.config import config_file

    source = config_file(name)
    target = Path(out) if out else Path(f"{source.stem}.yaml")
    if target.exists() and not force:
        raise GenloomError(f"'{target}' already exists; pass --force to replace it or --out FILE")
    target.write_text(source.read_text())
    click.echo(f"wrote {target}; train it with: genloom train {target}")


# -- training ---------------------------------------------------------------------------


@cli.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--resume", is_flag=True, help="Continue the run in output_dir from last.ckpt.")
def train(config_file: str, overrides: tuple[str, ...], resume: bool) -> None:
    """Train the model described by CONFIG (YAML), with KEY=VALUE overrides.

    CONFIG is a YAML file or the name of an example config an installed plugin
    ships ('genloom list configs'), e.g. genloom train gan-digits.

    \b
    Writes runs/<name>/ with config.yaml, checkpoints/last.ckpt, metrics.csv and
    samples/epoch-NNN.png. Examples:
      genloom train vae-digits trainer.max_epochs=5
      genloom train vae-digits output_dir=runs/a --resume
    Any trainer.* key goes to lightning.Trainer (devices, strategy, precision ...).
    """
    from genloom.config import load_config, resolve_config_argument

    config_file = resolve_config_argument(config_file)  # a file, or a packaged example's name
    cfg = load_config(config_file, overrides)  # before importing Lightning: a bad config answers fast
    from genloom.training import train as run_training

    run_training(cfg, resume=resume, name=Path(config_file).stem, echo=click.echo)


# -- sampling ---------------------------------------------------------------------------


def _parse_cond(text: str | None, n: int, model: Any = None) -> Any:
    if text is None:
        return None
    if model is not None and not model.conditional:
        from genloom.sampling import not_conditional_message

        raise GenloomError(not_conditional_message(model))
    import torch

    try:
        labels = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise GenloomError(f"--cond '{text}': give class labels as integers, e.g. --cond 7 or 0,1,2") from None
    if not labels:
        raise GenloomError("--cond is empty; give class labels, e.g. --cond 7")
    return torch.tensor([labels[i % len(labels)] for i in range(n)])


def _parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from genloom.config import parse_overrides

    return OmegaConf.to_container(parse_overrides(items)) if items else {}


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("options", nargs=-1, metavar="[OPTION=VALUE]...")
@click.option("--n", "n", type=int, default=None,
              help="Number of samples.  [default: 64; 1 for text models]")
@click.option("--sampler", default=None, help="Sampler name (default: the model's own).")
@click.option("--seed", default=0, show_default=True, help="Seed; equal seeds give equal samples.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Output file: .png grid/scatter, .txt for text, .npy raw array.")
@click.option("--cond", default=None, help="Class label(s) to condition on, e.g. 7 or 0,1,2.")
@click.option("--prompt", default=None, help="Text models: the text to continue.")
@click.option("--max-new-tokens", type=int, default=None,
              help="Text models: tokens to generate after the prompt  [default: 200].")
def sample(
    checkpoint: str, options: tuple[str, ...], n: int | None, sampler: str | None, seed: int,
    out: str | None, cond: str | None, prompt: str | None, max_new_tokens: int | None,
) -> None:
    """Draw samples from CHECKPOINT (a .ckpt file, a run directory or an export).

    \b
    OPTION=VALUE pairs go to the sampler, e.g.
      genloom sample runs/vae-digits --n 16 --seed 3 temperature=0.8
      genloom sample runs/cvae-digits --cond 7 --out sevens.png
      genloom sample runs/gpt-pydoc --prompt "def " --max-new-tokens 200 top_p=0.9
    Text models stream to stdout (or write --out FILE).
    """
    from genloom.checkpoints import load
    from genloom.kinds import get_kind

    if n is not None and n <= 0:
        raise GenloomError("--n must be at least 1")
    if not 0 <= seed < 2**64:  # what torch.Generator.manual_seed takes
        raise GenloomError(f"--seed must be between 0 and {2**64 - 1}, got {seed}")
    model = load(checkpoint)
    kind = get_kind(model.info.kind)
    n = kind.default_n if n is None else n
    sampler_options = _parse_options(options)
    if prompt is not None:
        sampler_options["prompt"] = prompt
    if max_new_tokens is not None:
        sampler_options["max_new_tokens"] = max_new_tokens
    stream = (lambda s: click.echo(s, nl=False)) if out is None and kind.streams else None
    cond_tensor = _parse_cond(cond, n, model)
    samples = kind.draw(model, n, sampler=sampler, cond=cond_tensor, seed=seed, options=sampler_options,
                        stream=stream)
    if stream is not None:
        return
    if out is None:
        out = str(_run_dir_of(checkpoint) / "samples" / f"sample-seed{seed}{kind.default_suffix}")
    from genloom.provenance import generation_record

    labels = None if cond_tensor is None else [int(v) for v in cond.split(",") if v.strip()]
    record = generation_record(model, checkpoint=Path(checkpoint).resolve(), n=n, seed=seed, sampler=sampler,
                               options=sampler_options, cond=labels)
    path = kind.write(samples, out, model.info, record)
    click.echo(f"wrote {n} samples to {path}")


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing export in OUT_DIR.")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Store the linear layers' weights in int8 (dynamic quantisation, CPU inference).")
@click.option("--format", "fmt", default="genloom", show_default=True, metavar="NAME",
              help="genloom, or a layout a plugin writes (genloom list layout), such as hf or diffusers.")
def export(checkpoint: str, out_dir: str, force: bool, quantize: str | None, fmt: str) -> None:
    """Write CHECKPOINT as OUT_DIR/model.safetensors + OUT_DIR/genloom.json.

    The export loads without pickle: genloom sample OUT_DIR works on it, and so does
    genloom.load_checkpoint(OUT_DIR). With --quantize int8, every linear layer not tied
    to another module is stored in int8 and runs as int8 when the export is loaded.
    With --format NAME, a plugin's layout writes OUT_DIR in its own format instead.
    """
    from genloom.checkpoints import export as write_export

    if fmt != "genloom":
        from genloom.checkpoints import export_as

        files = export_as(fmt, checkpoint, out_dir, force=force, quantize=quantize)
        click.echo(f"exported {checkpoint} to {out_dir} ({fmt}: {', '.join(files)})")
        return
    out = write_export(checkpoint, out_dir, force=force, quantize=quantize)
    size = (Path(out) / "model.safetensors").stat().st_size
    click.echo(f"exported {checkpoint} to {out}" + (f" ({quantize}, {size / 1e6:.2f} MB)" if quantize else ""))


def _run_dir_of(checkpoint: str) -> Path:
    """runs/NAME for runs/NAME, runs/NAME/checkpoints/X.ckpt; a lone file's own folder."""
    ckpt = Path(checkpoint)
    if ckpt.is_dir():
        return ckpt
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


# -- entry point ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: plugin commands, then one-line error handling.

    Run as the ``genloom`` program (``argv`` None), the exit code is the command's own:
    after the command, output is flushed and the process ends at once, so a plugin's
    ``atexit`` handler cannot change the code and its non-daemon threads cannot keep
    the command waiting. Called with ``argv`` (tests, scripts), it returns when the
    command succeeds and raises SystemExit otherwise, as before.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _run(args)
    except SystemExit as exc:  # a command's own sys.exit
        if argv is not None:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            click.echo(str(exc.code), err=True)
    if argv is None:
        _exit_now(code or 0)
    if code is not None:
        sys.exit(code)


def _exit_now(code: int) -> None:
    """End the process with ``code``: flush output and logs, then ``os._exit``."""
    import logging

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe (genloom ... | head)
            pass
    logging.shutdown()
    os._exit(code)


def _run(args: list[str]) -> int | None:
    """Run the command ``args``; return its exit code (None: it finished normally)."""
    debug = "--debug" in args or os.environ.get("GENLOOM_DEBUG", "").lower() not in FALSY
    try:
        host = _host()
        host.add_commands(cli)
        for line in host.warnings:
            click.echo(f"genloom: warning: {line}", err=True)
        cli.main(args=args, prog_name="genloom", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except (click.Abort, KeyboardInterrupt) as exc:
        cause = exc.__cause__ if isinstance(exc, click.Abort) else exc  # click wraps Ctrl-C
        click.echo(str(cause or "") or "interrupted", err=True)
        return 130
    except GenloomError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 2
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"error: {type(exc).__name__}: {exc} (run 'genloom --debug ...' for the traceback)",
            err=True,
        )
        return 1
    return None


if __name__ == "__main__":
    main()
