"""Entry point of the GAN plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "gan", "genloom_gan.model:GAN",
             help="GAN: non-saturating, hinge or WGAN-GP loss; R1; EMA generator; labels")
    register("generator", "dcgan", "genloom_gan.networks:DCGANGenerator",
             help="transposed-conv generator for square power-of-two images (8x8 and up)")
    register("generator", "mlp", "genloom_gan.networks:MLPGenerator",
             help="MLP generator for any data shape (e.g. toy2d points)")
    register("discriminator", "dcgan", "genloom_gan.networks:DCGANDiscriminator",
             help="strided-conv discriminator with a projection head for labels")
    register("discriminator", "mlp", "genloom_gan.networks:MLPDiscriminator",
             help="MLP discriminator with a projection head for labels")
    register("sampler", "truncation", "genloom_gan.truncation:TruncationSampler",
             help="z from a normal truncated at +-threshold, decoded by a one-shot Generator")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "gan-digits", "genloom_gan:configs/gan-digits.yaml",
             help="a DCGAN on the built-in 8x8 digits, with an EMA generator for sampling")
    register("config", "gan-mnist", "genloom_gan:configs/gan-mnist.yaml",
             help="a DCGAN on MNIST padded to 32x32, EMA generator (needs genloom-eval[mnist])")
    register("config", "gan-toy2d", "genloom_gan:configs/gan-toy2d.yaml",
             help="an MLP GAN on 2-D points (eight Gaussians on a circle), about half a minute on a CPU")
    register("config", "cgan-digits", "genloom_gan:configs/cgan-digits.yaml",
             help="a class-conditional DCGAN on the 8x8 digits (projection discriminator, hinge loss)")
    register("config", "cgan-mnist", "genloom_gan:configs/cgan-mnist.yaml",
             help="a class-conditional DCGAN on MNIST padded to 32x32 (needs pip install 'genloom-eval[mnist]')")


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"discriminator": "GAN discriminators D(x, y); model gan reads model.discriminator"}
