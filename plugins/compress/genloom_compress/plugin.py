"""Entry point of the compress library: the ``int8`` quantizer, declared as data.

genloom reads the table without importing this module's code paths (no torch here):
the quantizer's class is imported only when ``genloom export --quantize int8`` or an
int8 export asks for it.
"""

from __future__ import annotations

GENLOOM_COMPONENTS = {
    "quantizer:int8": ("genloom_compress.quantize:Int8",
        "int8 weights per output row for untied nn.Linear layers "
        "(genloom export --quantize int8); int8 matrix products on CPU"),
}
