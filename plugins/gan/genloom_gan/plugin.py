"""Entry point of the GAN plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:gan": ("genloom_gan.model:GAN",
        "GAN: non-saturating, hinge or WGAN-GP loss; R1; EMA generator; labels"),
    "generator:dcgan": ("genloom_gan.networks:DCGANGenerator",
        "transposed-conv generator for square images of 4-7 x 2^k pixels (8, 14, 16, 28, 32 ...)"),
    "generator:mlp": ("genloom_gan.networks:MLPGenerator",
        "MLP generator for any data shape (e.g. toy2d points)"),
    "discriminator:dcgan": ("genloom_gan.networks:DCGANDiscriminator",
        "strided-conv discriminator with a projection head for labels"),
    "discriminator:mlp": ("genloom_gan.networks:MLPDiscriminator",
        "MLP discriminator with a projection head for labels"),
    "sampler:truncation": ("genloom_gan.truncation:TruncationSampler",
        "z from a normal truncated at +-threshold, decoded by a one-shot Generator"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:gan-digits": ("genloom_gan:configs/gan-digits.yaml",
        "a DCGAN on the built-in 8x8 digits, with an EMA generator for sampling"),
    "config:gan-mnist": ("genloom_gan:configs/gan-mnist.yaml",
        "a DCGAN on MNIST padded to 32x32, EMA generator (needs genloom-eval[mnist])"),
    "config:gan-toy2d": ("genloom_gan:configs/gan-toy2d.yaml",
        "an MLP GAN on 2-D points (eight Gaussians on a circle), about half a minute on a CPU"),
    "config:cgan-digits": ("genloom_gan:configs/cgan-digits.yaml",
        "a class-conditional DCGAN on the 8x8 digits (projection discriminator, hinge loss)"),
    "config:cgan-mnist": ("genloom_gan:configs/cgan-mnist.yaml",
        "a class-conditional DCGAN on MNIST padded to 32x32 (needs pip install 'genloom-"
        "eval[mnist]')"),
    "config:cgan-fast-mnist": ("genloom_gan:configs/cgan-fast-mnist.yaml",
        "a class-conditional DCGAN sized for a CPU on 28x28 MNIST (width 16, mode-seeking; "
        "genloom-eval[mnist])"),
}


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"discriminator": "GAN discriminators D(x, y); model gan reads model.discriminator"}
