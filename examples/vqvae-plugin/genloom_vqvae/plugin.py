"""Entry point of the VQ-VAE plugin: declares its components by import path, as data.

genloom imports this module for every command, so it imports neither torch nor the
plugin's own model code.
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:vqvae": ("genloom_vqvae.vqvae:VQVAE",
        "stage 1: conv encoder, EMA codebook with dead-code restarts, conv decoder"),
    "model:vq-prior": ("genloom_vqvae.prior:VQPrior",
        "stage 2: any registered language model over a trained vqvae's code grid, optionally "
        "class-conditional"),
    "sampler:uniform_codes": ("genloom_vqvae.samplers:UniformCodesSampler",
        "decode a grid of uniformly random codes (what a VQ-VAE's codebook holds without a "
        "learned prior)"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:vqvae-digits": ("genloom_vqvae:configs/vqvae-digits.yaml",
        "stage 1 of 2: a VQ-VAE on the 8x8 digits, a 4x4 grid of 64 codes per image"),
    "config:vq-prior-digits": ("genloom_vqvae:configs/vq-prior-digits.yaml",
        "stage 2 of 2: a class-conditional transformer prior over the codes of runs/vqvae-digits "
        "(needs genloom-transformer)"),
}
