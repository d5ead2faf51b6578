"""Diffusion samplers, one per module: ``ddpm``, ``ddim``, ``dpmpp_2m``."""
