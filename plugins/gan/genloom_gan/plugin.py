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


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"discriminator": "GAN discriminators D(x, y); model gan reads model.discriminator"}
