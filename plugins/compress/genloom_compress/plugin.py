"""Entry point of the compress library: the ``int8`` quantizer, by import path.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("quantizer", "int8", "genloom_compress.quantize:Int8",
             help="int8 weights per output row for untied nn.Linear layers "
                  "(genloom export --quantize int8); int8 matrix products on CPU")
