"""Tiny random-weight Hugging Face models, saved locally (no download): what the tests, the
docs (docs/pretrained.md) and the benchmark import.

``python plugins/transformer/tests/hf_models.py llama FOLDER`` writes one from the shell.
Needs ``transformers`` (a test-only dependency) and ``tokenizers``.
"""

from __future__ import annotations

import sys
from pathlib import Path

CORPUS = ("the quick brown fox jumps over the lazy dog. " * 4
          + "a language model predicts the next token from the tokens before it. ") * 8


def make_tokenizer(vocab_size: int, bos: str | None) -> "object":
    """A small byte-level BPE ``tokenizers.Tokenizer``, with ``bos`` prepended when given
    (as Llama's tokenizer.json does) and GPT-2's ``<|endoftext|>`` otherwise."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    special = bos or "<|endoftext|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[special], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS], trainer=trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    return tok


def make_model(kind: str, folder: str | Path, *, width: int = 32, layers: int = 2, heads: int = 4,
               kv_heads: int = 2, tied: bool = False, context: int = 64, seed: int = 0,
               shards: bool = False, vocab: int = 320) -> Path:
    """Save a random-weight ``kind`` ("gpt2" or "llama") causal LM and its tokenizer.json to
    ``folder``; ``shards`` writes several ``*.safetensors`` files with an index."""
    import torch
    import transformers

    torch.manual_seed(seed)
    tok = make_tokenizer(300, "<s>" if kind == "llama" else None)
    if kind == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=vocab, n_embd=width, n_layer=layers, n_head=heads,
                                      n_positions=context, bos_token_id=0, eos_token_id=None)
        model = transformers.GPT2LMHeadModel(cfg)
    else:
        cfg = transformers.LlamaConfig(
            vocab_size=vocab, hidden_size=width, intermediate_size=2 * width + 8, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=context,
            tie_word_embeddings=tied, rope_parameters={"rope_type": "default", "rope_theta": 5000.0},
            rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=None)
        model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():  # norms away from 1 and biases away from 0, so a swapped tensor shows
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    out = Path(folder)
    model.save_pretrained(out, max_shard_size="20KB" if shards else "5GB")
    tok.save(str(out / "tokenizer.json"))
    return out


if __name__ == "__main__":
    make_model(sys.argv[1], sys.argv[2], **({"shards": True} if "--shards" in sys.argv else {}))
