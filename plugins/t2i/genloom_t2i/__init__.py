"""genloom-t2i: text-to-image diffusion steered by a prompt through cross-attention.

The model (``t2i``) composes a text encoder registered by genloom-text (``text:chars``)
with a cross-attention UNet of its own, trained against a noise schedule of
genloom-diffusion and sampled by that library's samplers through ``t2i:prompt``.
"""

__version__ = "0.1.0"
