"""Entry point of the VAE plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "vae", "genloom_vae.model:VAE",
             help="variational autoencoder: beta-ELBO, optional label conditioning")
    register("encoder", "mlp", "genloom_vae.networks:MLPEncoder",
             help="Gaussian MLP encoder for any data shape")
    register("encoder", "conv", "genloom_vae.networks:ConvEncoder",
             help="small conv encoder for square power-of-two images (8x8 and up)")
    register("generator", "mlp", "genloom_vae.networks:MLPDecoder",
             help="MLP decoder for any data shape")
    register("generator", "conv", "genloom_vae.networks:ConvDecoder",
             help="small transposed-conv decoder for square power-of-two images")
