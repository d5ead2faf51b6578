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
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "vae-digits", "genloom_vae:configs/vae-digits.yaml",
             help="a VAE on the built-in 8x8 digits: about a minute on a laptop CPU")
    register("config", "vae-mnist", "genloom_vae:configs/vae-mnist.yaml",
             help="a VAE on 5,000 28x28 MNIST digits (needs pip install 'genloom-eval[mnist]')")
    register("config", "vae-toy2d", "genloom_vae:configs/vae-toy2d.yaml",
             help="a VAE on 2-D two-moons points; samples are drawn as a scatter plot")
    register("config", "vae-conv-digits", "genloom_vae:configs/vae-conv-digits.yaml",
             help="a convolutional VAE on the 8x8 digits")
    register("config", "vae-conv-mnist", "genloom_vae:configs/vae-conv-mnist.yaml",
             help="a convolutional VAE on MNIST, padded to 32x32 for the power-of-two conv networks")
    register("config", "cvae-digits", "genloom_vae:configs/cvae-digits.yaml",
             help="a label-conditional VAE on the 8x8 digits; each row of the sample grid cycles 0-9")
