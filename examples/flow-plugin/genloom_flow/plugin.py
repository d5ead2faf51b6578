"""Entry point of the flow plugin: registers its components by import path only.

genloom imports this module for every command (``genloom --help`` included), so it
imports nothing heavy: no torch, and none of this package's model code.
"""

from __future__ import annotations

from typing import Any

from genloom import hookimpl


@hookimpl
def genloom_register_components(register: Any) -> None:
    """Register the ``flow`` model and the ``realnvp`` invertible generator."""
    register("model", "flow", "genloom_flow.model:Flow",
             help="normalizing flow: exact NLL, dequantised bits/dim on images, prior sampling")
    register("generator", "realnvp", "genloom_flow.realnvp:RealNVP",
             help="invertible generator: affine couplings (checkerboard/channel/halves masks), "
                  "ActNorm, optional invertible 1x1 convs")
