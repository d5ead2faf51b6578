"""Entry point of the EBM plugin: declares its components by import path, as data.

genloom imports this module for every command (``genloom --help`` included), so it
imports nothing heavy: no torch, and none of this plugin's own modules.
"""

from __future__ import annotations

from genloom import hookimpl


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:ebm": ("genloom_ebm.model:EBM",
        "energy-based model E(x, sigma), multi-level denoising score matching"),
    "energy:mlp": ("genloom_ebm.mlp:MLPEnergy",
        "residual MLP energy for any data shape (points, flattened images)"),
    "energy:conv": ("genloom_ebm.conv:ConvEnergy",
        "small conv energy for square power-of-two images (8x8 and up)"),
    "sampler:langevin": ("genloom_ebm.samplers.langevin:Langevin",
        "annealed Langevin dynamics on an energy (options: steps_per_level, step_size, denoise, "
        "init)"),
    "sampler:euler_ancestral": ("genloom_ebm.samplers.euler_ancestral:EulerAncestral",
        "Euler ancestral in sigma space for any diffusion model (options: steps, eta, guidance, "
        "clip)"),
    "sampler:heun": ("genloom_ebm.samplers.heun:Heun",
        "Heun's second-order method in sigma space for any diffusion model (options: steps, "
        "guidance, clip)"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:ebm-toy2d": ("genloom_ebm:configs/ebm-toy2d.yaml",
        "an energy-based model on 2-D two-moons points (MLP energy, Langevin sampling)"),
    "config:ebm-digits": ("genloom_ebm:configs/ebm-digits.yaml",
        "an energy-based model on the 8x8 digits (conv energy, 16 noise levels, Langevin "
        "sampling)"),
}


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"energy": "energy networks E(x, sigma); model ebm reads model.energy"}
