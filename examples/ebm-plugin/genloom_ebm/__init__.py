"""genloom-ebm: energy-based models and sigma-space diffusion samplers as a genloom plugin."""

__version__ = "0.1.0"
