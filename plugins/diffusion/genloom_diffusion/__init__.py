"""genloom-diffusion: denoising diffusion models as a genloom plugin."""

__version__ = "0.1.0"
