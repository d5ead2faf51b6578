"""Entry point of the transformer plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "transformer", "genloom_transformer.model:TransformerLM",
             help="decoder-only transformer language model with a KV cache (learned or rotary positions)")
