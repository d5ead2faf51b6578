"""genloom-flow: normalizing flows (affine coupling, RealNVP/Glow style) as a genloom plugin."""

__version__ = "0.1.0"
