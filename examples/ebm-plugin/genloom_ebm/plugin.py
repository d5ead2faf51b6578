"""Entry point of the EBM plugin: registers its components by import path only.

genloom imports this module for every command (``genloom --help`` included), so it
imports nothing heavy: no torch, and none of this plugin's own modules.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "ebm", "genloom_ebm.model:EBM",
             help="energy-based model E(x, sigma), multi-level denoising score matching")
    register("energy", "mlp", "genloom_ebm.mlp:MLPEnergy",
             help="residual MLP energy for any data shape (points, flattened images)")
    register("energy", "conv", "genloom_ebm.conv:ConvEnergy",
             help="small conv energy for square power-of-two images (8x8 and up)")
    register("sampler", "langevin", "genloom_ebm.samplers.langevin:Langevin",
             help="annealed Langevin dynamics on an energy (options: steps_per_level, "
                  "step_size, denoise, init)")
    register("sampler", "euler_ancestral", "genloom_ebm.samplers.euler_ancestral:EulerAncestral",
             help="Euler ancestral in sigma space for any diffusion model (options: steps, eta, "
                  "guidance, clip)")
    register("sampler", "heun", "genloom_ebm.samplers.heun:Heun",
             help="Heun's second-order method in sigma space for any diffusion model (options: "
                  "steps, guidance, clip)")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "ebm-toy2d", "genloom_ebm:configs/ebm-toy2d.yaml",
             help="an energy-based model on 2-D two-moons points (MLP energy, Langevin sampling)")
    register("config", "ebm-digits", "genloom_ebm:configs/ebm-digits.yaml",
             help="an energy-based model on the 8x8 digits (conv energy, 16 noise levels, Langevin sampling)")


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"energy": "energy networks E(x, sigma); model ebm reads model.energy"}
