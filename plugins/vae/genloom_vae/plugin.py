"""Entry point of the VAE plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:vae": ("genloom_vae.model:VAE",
        "variational autoencoder: beta-ELBO, optional label conditioning"),
    "encoder:mlp": ("genloom_vae.networks:MLPEncoder", "Gaussian MLP encoder for any data shape"),
    "encoder:conv": ("genloom_vae.networks:ConvEncoder",
        "small conv encoder for square power-of-two images (8x8 and up)"),
    "generator:mlp": ("genloom_vae.networks:MLPDecoder", "MLP decoder for any data shape"),
    "generator:conv": ("genloom_vae.networks:ConvDecoder",
        "small transposed-conv decoder for square power-of-two images"),
    "sampler:mixture": ("genloom_vae.prior:MixtureSampler",
        "latents from a Gaussian mixture (the VAE's prior=gmm, fitted to its encoder's means)"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:vae-digits": ("genloom_vae:configs/vae-digits.yaml",
        "a VAE on the built-in 8x8 digits: about a minute on a laptop CPU"),
    "config:vae-mnist": ("genloom_vae:configs/vae-mnist.yaml",
        "a VAE on 5,000 28x28 MNIST digits (needs pip install 'genloom-eval[mnist]')"),
    "config:vae-toy2d": ("genloom_vae:configs/vae-toy2d.yaml",
        "a VAE on 2-D two-moons points; samples are drawn as a scatter plot"),
    "config:vae-conv-digits": ("genloom_vae:configs/vae-conv-digits.yaml",
        "a convolutional VAE on the 8x8 digits"),
    "config:vae-conv-mnist": ("genloom_vae:configs/vae-conv-mnist.yaml",
        "a convolutional VAE on MNIST, padded to 32x32 for the power-of-two conv networks"),
    "config:cvae-digits": ("genloom_vae:configs/cvae-digits.yaml",
        "a label-conditional VAE on the 8x8 digits; each row of the sample grid cycles 0-9"),
}
