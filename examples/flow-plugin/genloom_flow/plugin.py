"""Entry point of the flow plugin: declares its components by import path, as data.

genloom imports this module for every command (``genloom --help`` included), so it
imports nothing heavy: no torch, and none of this package's model code.
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:flow": ("genloom_flow.model:Flow",
        "normalizing flow: exact NLL, dequantised bits/dim on images, prior sampling"),
    "generator:realnvp": ("genloom_flow.realnvp:RealNVP",
        "invertible generator: affine couplings (checkerboard/channel/halves masks), ActNorm, "
        "optional invertible 1x1 convs"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:flow-digits": ("genloom_flow:configs/flow-digits.yaml",
        "a RealNVP flow on the 8x8 digits; genloom evaluate reports test bits/dim"),
    "config:flow-toy2d": ("genloom_flow:configs/flow-toy2d.yaml",
        "a RealNVP flow on 2-D two moons; samples are drawn as a scatter plot"),
    "config:realnvp-mnist": ("genloom_flow:configs/realnvp-mnist.yaml",
        "a CPU-sized RealNVP flow on 28x28 MNIST (needs pip install 'genloom-eval[mnist]')"),
}
