"""genloom-vae: variational autoencoders as a genloom plugin."""

__version__ = "0.1.0"
