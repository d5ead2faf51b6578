"""Entry point of the align plugin: judges by import path, and the ``genloom align`` commands.

Import-light on purpose (no torch): genloom imports this module for every command;
each command imports its machinery when it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from genloom import hookimpl


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"judge": "a programmatic preference: score(text) -> float, higher preferred "
                     "(genloom align pairs/rlhf --judge)"}


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "judge:keyword": ("genloom_align.judges:Keyword",
        "prefers texts with more occurrences of word= (default 'the')"),
    "judge:length": ("genloom_align.judges:Length",
        "prefers texts of about target= characters (default 40)"),
    "judge:python": ("genloom_align.judges:Parses",
        "prefers texts that parse as Python (ast.parse; nothing is run)"),
    "judge:iambic": ("genloom_align.judges:Iambic",
        "prefers verse lines of 8 to 12 syllables (about pentameter)"),
}


def _options(items: tuple[str, ...]) -> dict[str, str]:
    from genloom import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--option '{item}': write KEY=VALUE, e.g. --option word=the")
        key, value = item.split("=", 1)
        out[key] = value
    return out


def _prompts(prompt: tuple[str, ...], prompts_file: str | None) -> list[str]:
    from genloom import ConfigError

    found = list(prompt)
    if prompts_file:
        path = Path(prompts_file)
        if not path.is_file():
            raise ConfigError(f"--prompts-file '{path}' does not exist")
        found += [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not found:
        raise ConfigError("give at least one --prompt TEXT (or --prompts-file with one per line)")
    return found


def _free(path: Path, force: bool, *names: str) -> None:
    """Refuse to overwrite earlier results unless --force."""
    from genloom import ConfigError

    taken = [path / n for n in names] if names else [path]
    if not force and any(p.exists() for p in taken):
        raise ConfigError(f"'{path}' already holds results; pass --force to replace them or pick another --out")


def _write_summary(out: Path, command: str, summary: dict) -> None:
    (out / "align.json").write_text(json.dumps({"command": command, **summary}, indent=2), encoding="utf-8")


def _export(model, out: Path, force: bool, note: dict) -> None:
    from genloom import save_model

    save_model(model, out, force=force, note=note)


EXPORT = ("model.safetensors", "genloom.json")
seed_opt = click.option("--seed", default=0, show_default=True, help="Seed of sampling, batches and initialisation.")
force_opt = click.option("--force", is_flag=True, help="Replace earlier results in --out.")
prompt_opts = [
    click.option("--prompt", multiple=True, help="A prompt (repeatable)."),
    click.option("--prompts-file", type=click.Path(dir_okay=False), default=None,
                 help="A text file with one prompt per line."),
]


def _with(options):
    def wrap(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return wrap


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.group()
    def align() -> None:
        """Preference data, reward models, DPO, RLHF and LoRA for language models.

        Every command takes the checkpoint of any autoregressive text model (a run
        directory, a .ckpt or an export) and writes its result next to nothing else:
        an existing --out is kept unless --force.
        """

    @align.command()
    @click.argument("policy", type=click.Path())
    @click.option("--judge", required=True, help="A registered judge: keyword, length, python, iambic.")
    @click.option("--option", "judge_options", multiple=True, help="Judge option KEY=VALUE (repeatable).")
    @_with(prompt_opts)
    @click.option("--n", "n_pairs", default=200, show_default=True, help="Pairs to make.")
    @click.option("--per-prompt", default=4, show_default=True, help="Samples per prompt; best vs worst.")
    @click.option("--max-new-tokens", default=32, show_default=True)
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="The JSONL file to write.")
    @seed_opt
    @force_opt
    def pairs(policy, judge, judge_options, prompt, prompts_file, n_pairs, per_prompt, max_new_tokens,
              out, seed, force):
        """Make preference pairs from a programmatic JUDGE over POLICY's own samples.

        The judge stands in for human raters: the pairs encode its rule and nothing else.
        """
        from genloom_align.judges import build_judge
        from genloom_align.policy import load_policy
        from genloom_align.preferences import make_pairs, write_pairs

        _free(Path(out), force)
        texts = _prompts(prompt, prompts_file)
        scorer = build_judge(judge, _options(judge_options))
        model = load_policy(policy)
        made = make_pairs(model, scorer, texts, n_pairs, per_prompt=per_prompt,
                          max_new_tokens=max_new_tokens, seed=seed)
        write_pairs(made, out)
        click.echo(f"wrote {len(made)} pairs judged by '{judge}' to {out}")

    @align.command()
    @click.argument("base", type=click.Path())
    @click.argument("pairs_file", type=click.Path())
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @click.option("--steps", default=300, show_default=True)
    @click.option("--lr", default=1e-2, show_default=True)
    @click.option("--held-out", default=0.2, show_default=True, help="Share of pairs held out for accuracy.")
    @seed_opt
    @force_opt
    def reward(base, pairs_file, out, steps, lr, held_out, seed, force):
        """Train a reward model on BASE's features from the pairs in PAIRS_FILE (Bradley-Terry)."""
        from genloom_align.preferences import read_pairs, split_pairs
        from genloom_align.reward import train_reward

        out_dir = Path(out)
        _free(out_dir, force, "reward.safetensors")
        train, test = split_pairs(read_pairs(pairs_file), held_out, seed)
        model, summary = train_reward(base, train, test, steps=steps, lr=lr, seed=seed, echo=click.echo)
        model.save(out_dir)
        _write_summary(out_dir, "reward", summary)
        click.echo("reward model: " + "  ".join(f"{k} {v}" for k, v in summary.items()) + f"; saved to {out_dir}")

    @align.command()
    @click.argument("policy", type=click.Path())
    @click.argument("pairs_file", type=click.Path())
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @click.option("--beta", default=0.1, show_default=True, help="Strength of the pull toward the reference.")
    @click.option("--lr", default=1e-4, show_default=True)
    @click.option("--steps", default=200, show_default=True)
    @click.option("--batch-size", default=8, show_default=True)
    @click.option("--held-out", default=0.1, show_default=True)
    @click.option("--log-every", default=20, show_default=True)
    @seed_opt
    @force_opt
    def dpo(policy, pairs_file, out, beta, lr, steps, batch_size, held_out, log_every, seed, force):
        """Align POLICY to the pairs in PAIRS_FILE with DPO; write the result as an export."""
        from genloom_align.dpo import DPOConfig, train_dpo
        from genloom_align.preferences import read_pairs, split_pairs

        out_dir = Path(out)
        _free(out_dir, force, *EXPORT)
        train, test = split_pairs(read_pairs(pairs_file), held_out, seed)
        cfg = DPOConfig(beta=beta, lr=lr, steps=steps, batch_size=batch_size, seed=seed, log_every=log_every)
        model, summary = train_dpo(policy, train, test, cfg, echo=click.echo)
        _export(model, out_dir, force, {"made_by": "genloom align dpo", "base": str(policy), "beta": beta})
        _write_summary(out_dir, "dpo", summary)
        click.echo("held-out: " + "  ".join(f"{k.removeprefix('held_out_')} {v}" for k, v in summary.items())
                   + f"; policy saved to {out_dir}")

    @align.command()
    @click.argument("policy", type=click.Path())
    @click.option("--reward", "reward_dir", type=click.Path(), default=None, help="A reward model (genloom align reward).")
    @click.option("--judge", default=None, help="Or a programmatic judge: keyword, length, python, iambic.")
    @click.option("--option", "judge_options", multiple=True, help="Judge option KEY=VALUE.")
    @_with(prompt_opts)
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @click.option("--steps", default=200, show_default=True)
    @click.option("--lr", default=1e-4, show_default=True)
    @click.option("--kl-coef", default=0.05, show_default=True, help="Weight of the KL penalty to the reference.")
    @click.option("--per-prompt", default=4, show_default=True, help="Samples per prompt (RLOO group).")
    @click.option("--prompts-per-step", default=4, show_default=True)
    @click.option("--max-new-tokens", default=32, show_default=True)
    @click.option("--log-every", default=20, show_default=True)
    @seed_opt
    @force_opt
    def rlhf(policy, reward_dir, judge, judge_options, prompt, prompts_file, out, steps, lr, kl_coef,
             per_prompt, prompts_per_step, max_new_tokens, log_every, seed, force):
        """Optimise POLICY's samples for a reward (RLOO with a KL penalty); write an export."""
        from genloom import ConfigError
        from genloom_align.rlhf import RLConfig, judge_scorer, reward_model_scorer, train_rlhf

        if (reward_dir is None) == (judge is None):
            raise ConfigError("give exactly one of --reward DIR (a reward model) or --judge NAME")
        if per_prompt < 2:
            raise ConfigError("--per-prompt must be at least 2 (the baseline is the other samples' mean)")
        out_dir = Path(out)
        _free(out_dir, force, *EXPORT)
        texts = _prompts(prompt, prompts_file)
        if judge is not None:
            from genloom_align.judges import build_judge

            scorer = judge_scorer(build_judge(judge, _options(judge_options)))
        else:
            from genloom_align.reward import load_reward_model

            scorer = reward_model_scorer(load_reward_model(reward_dir))
        cfg = RLConfig(steps=steps, lr=lr, kl_coef=kl_coef, per_prompt=per_prompt,
                       prompts_per_step=prompts_per_step, max_new_tokens=max_new_tokens,
                       seed=seed, log_every=log_every)
        model, history = train_rlhf(policy, scorer, texts, cfg, echo=click.echo)
        _export(model, out_dir, force, {"made_by": "genloom align rlhf", "base": str(policy)})
        _write_summary(out_dir, "rlhf", {"history": history})
        click.echo(f"policy saved to {out_dir}")

    @align.command()
    @click.argument("base", type=click.Path())
    @click.argument("overrides", nargs=-1)
    @click.option("--out", required=True, type=click.Path(file_okay=False))
    @click.option("--rank", default=0, show_default=True, help="LoRA rank; 0 fine-tunes every weight.")
    @click.option("--alpha", default=0.0, show_default=True, help="LoRA alpha (0: the rank).")
    @click.option("--target", multiple=True, help="Linear layers to adapt (name patterns; default: all untied).")
    @click.option("--steps", default=200, show_default=True)
    @click.option("--lr", default=1e-3, show_default=True)
    @click.option("--log-every", default=50, show_default=True)
    @click.option("--eval-windows", default=0, show_default=True, help="Validation windows for bpc (0: all).")
    @seed_opt
    @force_opt
    def finetune(base, overrides, out, rank, alpha, target, steps, lr, log_every, eval_windows, seed, force):
        """Fine-tune BASE on data (data.* OVERRIDES, e.g. data.name=shakespeare).

        With --rank R only LoRA adapters train and OUT gets adapters.safetensors (load
        them with 'genloom align merge'); without, OUT is an export of the whole model.
        """
        from genloom_compress.lora import save_adapters
        from genloom_align.finetune import FinetuneConfig, finetune as run

        out_dir = Path(out)
        _free(out_dir, force, "adapters.safetensors" if rank else "model.safetensors")
        cfg = FinetuneConfig(steps=steps, lr=lr, rank=rank, alpha=alpha, targets=tuple(target),
                             seed=seed, log_every=log_every)
        model, summary = run(base, list(overrides), cfg, eval_windows=eval_windows, echo=click.echo)
        if rank:
            save_adapters(model.net, out_dir / "adapters.safetensors",
                          extra={"base": str(Path(base).resolve())})
            where = out_dir / "adapters.safetensors"
        else:
            _export(model, out_dir, force, {"made_by": "genloom align finetune", "base": str(base)})
            where = out_dir
        _write_summary(out_dir, "finetune", summary)
        click.echo("  ".join(f"{k} {v}" for k, v in summary.items()) + f"; saved to {where}")

    @align.command()
    @click.argument("base", type=click.Path())
    @click.argument("adapters", type=click.Path())
    @click.argument("out", type=click.Path(file_okay=False))
    @force_opt
    def merge(base, adapters, out, force):
        """Load LoRA ADAPTERS on top of BASE, fold them into the weights, export to OUT."""
        from genloom_compress.lora import load_adapters, merge_lora
        from genloom_align.policy import load_policy

        _free(Path(out), force, *EXPORT)
        model = load_policy(base, "base")
        load_adapters(model.net, adapters)
        merged = merge_lora(model.net)
        _export(model, Path(out), force, {"made_by": "genloom align merge", "base": str(base),
                                          "adapters": str(adapters)})
        click.echo(f"merged {merged} adapted layers into {base}; exported to {out}")
