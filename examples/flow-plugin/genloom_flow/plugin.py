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
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "flow-digits", "genloom_flow:configs/flow-digits.yaml",
             help="a RealNVP flow on the 8x8 digits; genloom evaluate reports test bits/dim")
    register("config", "flow-toy2d", "genloom_flow:configs/flow-toy2d.yaml",
             help="a RealNVP flow on 2-D two moons; samples are drawn as a scatter plot")
