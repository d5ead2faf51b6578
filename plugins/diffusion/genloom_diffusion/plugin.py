"""Entry point of the diffusion plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
It adds ``genloom import-diffusers`` (diffusers pipeline and AutoencoderKL folders in),
which imports its machinery when it runs.
"""

from __future__ import annotations

import click

from genloom import hookimpl


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:diffusion": ("genloom_diffusion.model:Diffusion",
        "denoising diffusion with any denoiser and noise schedule; guidance, EMA, latent "
        "diffusion"),
    "denoiser:unet": ("genloom_diffusion.unet:UNet",
        "UNet for square images (8x8 and up, halved evenly per level), time and class embeddings"),
    "denoiser:mlp": ("genloom_diffusion.mlp:MLPDenoiser",
        "residual MLP for points and flat latents (any shape, flattened)"),
    "model:diffusers": ("genloom_diffusion.hf_model:DiffusersDiffusion",
        "diffusion imported from a diffusers DDPM/DDIM pipeline: its scheduler's timestep spacing and "
        "clipping"),
    "model:diffusers_vae": ("genloom_diffusion.hf_vae:DiffusersVAE",
        "a diffusers AutoencoderKL, imported: a frozen first stage for latent diffusion"),
    "denoiser:diffusers_unet": ("genloom_diffusion.hf_unet:DiffusersUNet",
        "diffusers' UNet2DModel (DownBlock2D/AttnDownBlock2D, UpBlock2D/AttnUpBlock2D), re-implemented"),
    "noise_schedule:diffusers": ("genloom_diffusion.hf_diffusers:DiffusersBetas",
        "a diffusers scheduler's betas (linear, scaled_linear, squaredcos_cap_v2), computed as diffusers does"),
    "layout:diffusers": ("genloom_diffusion.hf_diffusers:DiffusersLayout",
        "a diffusers folder: a DDPM/DDIM pipeline (UNet2DModel + scheduler) or an AutoencoderKL"),
    "noise_schedule:linear": ("genloom_diffusion.schedules:Linear",
        "betas linear from beta_start to beta_end (Ho et al., 2020)"),
    "noise_schedule:cosine": ("genloom_diffusion.schedules:Cosine",
        "alpha-bar a squared cosine (Nichol and Dhariwal, 2021)"),
    "sampler:ddpm": ("genloom_diffusion.samplers.ddpm:DDPM",
        "ancestral sampling (options: steps, guidance, clip)"),
    "sampler:ddim": ("genloom_diffusion.samplers.ddim:DDIM",
        "DDIM, deterministic at eta=0 (options: steps, eta, guidance, clip)"),
    "sampler:dpmpp_2m": ("genloom_diffusion.samplers.dpm_solver:DPMSolverPP2M",
        "DPM-Solver++ 2M, second-order multistep (options: steps, karras, guidance, clip)"),
    "sampler:euler": ("genloom_diffusion.samplers.euler:Euler",
        "Euler in sigma space on Karras noise levels (options: steps, karras, guidance, clip)"),
    "sampler:flow_euler": ("genloom_diffusion.samplers.flow:FlowEuler",
        "Euler for flow-matching models, model.objective=flow (options: steps, shift, guidance)"),
    "sampler:flow_heun": ("genloom_diffusion.samplers.flow:FlowHeun",
        "Heun for flow-matching models, two calls a step (options: steps, shift, guidance)"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:diffusion-digits": ("genloom_diffusion:configs/diffusion-digits.yaml",
        "denoising diffusion on the 8x8 digits with the UNet denoiser"),
    "config:diffusion-mnist": ("genloom_diffusion:configs/diffusion-mnist.yaml",
        "denoising diffusion on MNIST padded to 32x32 with the UNet denoiser"),
    "config:flow-mnist": ("genloom_diffusion:configs/flow-mnist.yaml",
        "flow matching on MNIST with an MLP velocity net, sized for a CPU (minutes)"),
    "config:flow-unet-mnist": ("genloom_diffusion:configs/flow-unet-mnist.yaml",
        "flow matching on MNIST with a small conv UNet, sized for a CPU"),
    "config:flow-fast-mnist": ("genloom_diffusion:configs/flow-fast-mnist.yaml",
        "class-conditional flow matching on 28x28 MNIST with guidance, sized for 5 CPU-minutes"),
    "config:diffusion-toy2d": ("genloom_diffusion:configs/diffusion-toy2d.yaml",
        "diffusion on 2-D two-moons points with the MLP denoiser; samples are a scatter plot"),
    "config:diffusion-cond-digits": ("genloom_diffusion:configs/diffusion-cond-digits.yaml",
        "class-conditional diffusion on the 8x8 digits with classifier-free guidance"),
    "config:diffusion-latent-vae": ("genloom_diffusion:configs/diffusion-latent-vae.yaml",
        "latent diffusion in the latent space of runs/vae-digits (train vae-digits first)"),
}


@hookimpl
def genloom_component_kinds() -> dict[str, str]:
    return {"noise_schedule": "forward-process noise schedules; model diffusion reads model.schedule"}


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command("import-diffusers")
    @click.argument("folder", type=click.Path())
    @click.argument("out_dir", type=click.Path(file_okay=False))
    @click.option("--force", is_flag=True, help="Replace an export already in OUT_DIR.")
    def import_diffusers(folder: str, out_dir: str, force: bool) -> None:
        """Import a diffusers FOLDER as a genloom export in OUT_DIR.

        FOLDER is local and in the layout diffusers' save_pretrained writes: a
        DDPMPipeline or DDIMPipeline (model_index.json, unet/, scheduler/), or an
        AutoencoderKL (config.json, diffusion_pytorch_model.safetensors). It is read as
        data; no code from it runs and diffusers need not be installed. A pipeline's
        export samples with genloom sample OUT_DIR (ddpm, ddim, ...); an AutoencoderKL's
        is a first stage for latent diffusion (model.latent.checkpoint=OUT_DIR).
        """
        from genloom import save_model
        from genloom_diffusion.hf_diffusers import describe
        from genloom_diffusion.hf_diffusers import import_diffusers as load

        model = load(folder)
        save_model(model, out_dir, force=force, note={"made_by": "genloom import-diffusers",
                                                     "source": str(folder)})
        click.echo(f"imported {folder} ({describe(model)}) to {out_dir}")
