"""Entry point of the t2i plugin: declares its components by import path, as data.

genloom imports this module for every command, so it imports nothing heavy (no torch).
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:t2i": ("genloom_t2i.model:TextToImage",
        "text-to-image diffusion: a cross-attention UNet over a text encoder's states, "
        "caption dropout for classifier-free guidance"),
    "sampler:prompt": ("genloom_t2i.sampler:PromptSampler",
        "turns prompt='a thin 3 leaning left' (or labels) into tokens and runs a diffusion "
        "sampler (options: prompt, base, guidance, and the base sampler's)"),
    "metric:prompt_fidelity": ("genloom_t2i.metrics:PromptFidelity",
        "captioned digits: the classifier's accuracy on the asked digit and each asked "
        "attribute re-measured on samples, on test prompts and held-out combinations; FID; floors"),
    "metric:clip_score": ("genloom_t2i.clip_metric:ClipScore",
        "captioned digits: a shipped CLIP-style model's score (100*max(cos,0)) and prompt "
        "retrieval among 10 of samples against their prompts; real-data floor, shuffled chance"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:t2i-mnist": ("genloom_t2i:configs/t2i-mnist.yaml",
        "text-to-image on the captioned MNIST digits, sized for a CPU"),
    "config:t2i-mnist-gpu": ("genloom_t2i:configs/t2i-mnist-gpu.yaml",
        "text-to-image on the captioned MNIST digits, sized for one GPU (untested)"),
    "config:t2i-latent-mnist": ("genloom_t2i:configs/t2i-latent-mnist.yaml",
        "latent text-to-image over a frozen VAE on the captioned digits, sized for a CPU "
        "(train its first stage first: see the file's header)"),
    "config:t2i-latent-mnist-gpu": ("genloom_t2i:configs/t2i-latent-mnist-gpu.yaml",
        "latent text-to-image over a frozen VAE on the captioned digits, sized for one GPU (untested)"),
}
