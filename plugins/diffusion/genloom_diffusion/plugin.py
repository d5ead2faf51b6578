"""Entry point of the diffusion plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "diffusion", "genloom_diffusion.model:Diffusion",
             help="denoising diffusion with any denoiser and noise schedule; guidance, EMA, "
                  "latent diffusion")
    register("denoiser", "unet", "genloom_diffusion.unet:UNet",
             help="UNet for square power-of-two images (8x8 and up), time and class embeddings")
    register("denoiser", "mlp", "genloom_diffusion.mlp:MLPDenoiser",
             help="residual MLP for points and flat latents (any shape, flattened)")
    register("noise_schedule", "linear", "genloom_diffusion.schedules:Linear",
             help="betas linear from beta_start to beta_end (Ho et al., 2020)")
    register("noise_schedule", "cosine", "genloom_diffusion.schedules:Cosine",
             help="alpha-bar a squared cosine (Nichol and Dhariwal, 2021)")
    register("sampler", "ddpm", "genloom_diffusion.samplers.ddpm:DDPM",
             help="ancestral sampling (options: steps, guidance, clip)")
    register("sampler", "ddim", "genloom_diffusion.samplers.ddim:DDIM",
             help="DDIM, deterministic at eta=0 (options: steps, eta, guidance, clip)")
    register("sampler", "dpmpp_2m", "genloom_diffusion.samplers.dpm_solver:DPMSolverPP2M",
             help="DPM-Solver++ 2M, second-order multistep (options: steps, guidance, clip)")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "diffusion-digits", "genloom_diffusion:configs/diffusion-digits.yaml",
             help="denoising diffusion on the 8x8 digits with the UNet denoiser")
    register("config", "diffusion-mnist", "genloom_diffusion:configs/diffusion-mnist.yaml",
             help="denoising diffusion on MNIST padded to 32x32 with the UNet denoiser")
    register("config", "diffusion-toy2d", "genloom_diffusion:configs/diffusion-toy2d.yaml",
             help="diffusion on 2-D two-moons points with the MLP denoiser; samples are a scatter plot")
    register("config", "diffusion-cond-digits", "genloom_diffusion:configs/diffusion-cond-digits.yaml",
             help="class-conditional diffusion on the 8x8 digits with classifier-free guidance")
    register("config", "diffusion-latent-vae", "genloom_diffusion:configs/diffusion-latent-vae.yaml",
             help="latent diffusion in the latent space of runs/vae-digits (train vae-digits first)")


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"noise_schedule": "forward-process noise schedules; model diffusion reads model.schedule"}
