"""Tiny random-weight diffusers models saved to a folder, for tests and docs (no download).

``python plugins/diffusion/tests/diffusers_models.py ddpm FOLDER`` writes a
``DDPMPipeline`` (a 16x16 RGB ``UNet2DModel`` with attention blocks, a 100-step
``DDPMScheduler``); ``vae FOLDER`` writes an ``AutoencoderKL`` for 16x16 RGB images.
Every parameter is perturbed from diffusers' initialisation (whose norms are all ones
and zeros), so a comparison exercises each weight. diffusers is a test-only dependency.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

UNET = {"sample_size": 16, "in_channels": 3, "out_channels": 3, "layers_per_block": 1,
        "block_out_channels": (8, 16, 16), "norm_num_groups": 4, "attention_head_dim": 4,
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D")}
SCHEDULER = {"num_train_timesteps": 100, "beta_schedule": "linear"}
VAE = {"sample_size": 16, "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1,
       "block_out_channels": (8, 16), "norm_num_groups": 4,
       "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
       "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D")}


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def unet(**overrides: Any) -> Any:
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return perturb(UNet2DModel(**{**UNET, **overrides}))


def ddpm(folder: str | Path, scheduler: dict[str, Any] | None = None, **unet_overrides: Any) -> Any:
    """A DDPMPipeline saved to ``folder``; returns the pipeline."""
    from diffusers import DDPMPipeline, DDPMScheduler

    pipe = DDPMPipeline(unet=unet(**unet_overrides), scheduler=DDPMScheduler(**{**SCHEDULER, **(scheduler or {})}))
    pipe.save_pretrained(str(folder))
    return pipe


def vae(folder: str | Path, **overrides: Any) -> Any:
    """An AutoencoderKL saved to ``folder``; returns it."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    model = perturb(AutoencoderKL(**{**VAE, **overrides}))
    model.save_pretrained(str(folder))
    return model


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    {"ddpm": ddpm, "vae": vae}[kind](out)
    print(f"wrote a tiny random {kind} to {out}")
