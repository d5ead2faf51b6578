"""genloom-vqvae: a VQ-VAE and an autoregressive prior over its codes, as a genloom plugin."""

__version__ = "0.1.0"
