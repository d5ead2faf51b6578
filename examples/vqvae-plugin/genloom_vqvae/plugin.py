"""Entry point of the VQ-VAE plugin: registers its components by import path only.

genloom imports this module for every command, so it imports neither torch nor the
plugin's own model code.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "vqvae", "genloom_vqvae.vqvae:VQVAE",
             help="stage 1: conv encoder, EMA codebook with dead-code restarts, conv decoder")
    register("model", "vq-prior", "genloom_vqvae.prior:VQPrior",
             help="stage 2: any registered language model over a trained vqvae's code grid, "
                  "optionally class-conditional")
    register("sampler", "uniform_codes", "genloom_vqvae.samplers:UniformCodesSampler",
             help="decode a grid of uniformly random codes (what a VQ-VAE's codebook holds "
                  "without a learned prior)")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "vqvae-digits", "genloom_vqvae:configs/vqvae-digits.yaml",
             help="stage 1 of 2: a VQ-VAE on the 8x8 digits, a 4x4 grid of 64 codes per image")
    register("config", "vq-prior-digits", "genloom_vqvae:configs/vq-prior-digits.yaml",
             help="stage 2 of 2: a class-conditional transformer prior over the codes of "
                  "runs/vqvae-digits (needs genloom-transformer)")
