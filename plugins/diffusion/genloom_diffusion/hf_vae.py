"""``diffusers_vae``: diffusers' ``AutoencoderKL`` as a genloom Encoder/Generator pair.

Its purpose is latent diffusion's frozen first stage: name an ``AutoencoderKL`` folder
as ``model.latent.checkpoint`` and :class:`~genloom_diffusion.FirstStage` encodes
through :class:`VAEEncoder` (the Gaussian's mean, as ``latent_dist.mean``) and decodes
through :class:`VAEDecoder` (as ``AutoencoderKL.decode``). The networks are
:mod:`genloom_diffusion.hf_blocks`' re-implementation with diffusers' parameter names
(``quant_conv`` sits in the encoder here, ``post_quant_conv`` in the decoder).
``scaling_factor`` is not applied: set ``model.latent.scale`` to it (or 0 to measure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from genloom import ConfigError, DataInfo, DiagonalGaussian, Encoder, GenerativeModel, Generator
from genloom.errors import CheckpointError

from genloom_diffusion.hf_blocks import ACTIVATIONS, DownBlock, MidBlock, UpBlock

EPS = 1e-6  # diffusers' VAE blocks use this GroupNorm epsilon throughout
MAX_CHANNELS, MAX_SIZE, MAX_LAYERS = 8192, 4096, 64
#: ``AutoencoderKL`` config keys whose only value genloom holds
FIXED = {"shift_factor": None, "latents_mean": None, "latents_std": None}


@dataclass
class VAEConfig:
    """``AutoencoderKL``'s options genloom holds, under diffusers' names."""

    sample_size: int = 32
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 4
    down_block_types: list[str] = field(default_factory=lambda: ["DownEncoderBlock2D"])
    up_block_types: list[str] = field(default_factory=lambda: ["UpDecoderBlock2D"])
    block_out_channels: list[int] = field(default_factory=lambda: [64])
    layers_per_block: int = 1
    act_fn: str = "silu"
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215
    use_quant_conv: bool = True
    use_post_quant_conv: bool = True
    mid_block_add_attention: bool = True
    force_upcast: bool = True  # half-precision advice to diffusers; genloom runs float32


def _resnet(cfg: Any) -> dict[str, Any]:
    return {"groups": cfg.norm_num_groups, "eps": EPS, "act": cfg.act_fn}


class VAEEncoder(Encoder):
    """diffusers' VAE ``Encoder`` plus ``quant_conv``: images to a diagonal Gaussian."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        ch = list(cfg.block_out_channels)
        self.latent_shape = (cfg.latent_channels, cfg.sample_size // 2 ** (len(ch) - 1),
                             cfg.sample_size // 2 ** (len(ch) - 1))
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            DownBlock(ch[max(i - 1, 0)], c, None, layers=cfg.layers_per_block, attention=False, head_dim=c,
                      downsample=i < len(ch) - 1, padding=0, **_resnet(cfg)) for i, c in enumerate(ch))
        self.mid_block = MidBlock(ch[-1], None, attention=cfg.mid_block_add_attention, head_dim=ch[-1],
                                  attn_groups=cfg.norm_num_groups, **_resnet(cfg))
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[-1], eps=EPS)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg.latent_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1) if cfg.use_quant_conv else None

    def encode(self, x: Tensor, cond: Tensor | None = None) -> DiagonalGaussian:
        h = self.conv_in(x)
        for block in self.down_blocks:
            h = block(h)[0]
        h = self.conv_out(self.conv_act(self.conv_norm_out(self.mid_block(h))))
        if self.quant_conv is not None:
            h = self.quant_conv(h)
        mean, logvar = h.chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar.clamp(-30.0, 20.0))


class VAEDecoder(Generator):
    """``post_quant_conv`` plus diffusers' VAE ``Decoder``: latents to images."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        ch = list(cfg.block_out_channels)
        rev = ch[::-1]
        self.latent_shape = (cfg.latent_channels, cfg.sample_size // 2 ** (len(ch) - 1),
                             cfg.sample_size // 2 ** (len(ch) - 1))
        self.post_quant_conv = (nn.Conv2d(cfg.latent_channels, cfg.latent_channels, 1)
                                if cfg.use_post_quant_conv else None)
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[-1], 3, padding=1)
        self.mid_block = MidBlock(ch[-1], None, attention=cfg.mid_block_add_attention, head_dim=ch[-1],
                                  attn_groups=cfg.norm_num_groups, **_resnet(cfg))
        self.up_blocks = nn.ModuleList(
            UpBlock(0, rev[max(i - 1, 0)], c, None, layers=cfg.layers_per_block + 1, attention=False, head_dim=c,
                    upsample=i < len(ch) - 1, skip=False, **_resnet(cfg)) for i, c in enumerate(rev))
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=EPS)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        h = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            h = block(h)
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))


class DiffusersVAE(GenerativeModel):
    """An imported ``AutoencoderKL``: :class:`VAEEncoder` and :class:`VAEDecoder`, for use
    as a frozen first stage (it does not train in genloom; ``genloom sample`` decodes
    standard normal latents)."""

    likelihood = "none"
    has_latent_space = True

    Config = VAEConfig

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        check_vae(cfg)
        self.encoder, self.decoder = VAEEncoder(cfg), VAEDecoder(cfg)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        raise ConfigError("an imported AutoencoderKL (diffusers_vae) is a frozen first stage; genloom does not "
                          "train it: name it as model.latent.checkpoint of a diffusion model")


def check_vae(cfg: Any) -> None:
    """One-line errors for an ``AutoencoderKL`` config genloom cannot build."""
    ch = list(cfg.block_out_channels)
    bad = ([b for b in cfg.down_block_types if b != "DownEncoderBlock2D"]
           + [b for b in cfg.up_block_types if b != "UpDecoderBlock2D"])
    if bad:
        raise CheckpointError(f"AutoencoderKL block type '{bad[0]}' is not supported; genloom holds "
                              "DownEncoderBlock2D, UpDecoderBlock2D")
    if not ch or not len(ch) == len(cfg.down_block_types) == len(cfg.up_block_types):
        raise CheckpointError("AutoencoderKL config: block_out_channels, down_block_types and up_block_types "
                              "must be equal in number")
    if cfg.act_fn not in ACTIVATIONS:
        raise CheckpointError(f"AutoencoderKL act_fn '{cfg.act_fn}' is not supported")
    sizes = [*ch, cfg.in_channels, cfg.out_channels, cfg.latent_channels]
    if min(sizes) < 1 or max(sizes) > MAX_CHANNELS or not 1 <= cfg.layers_per_block <= MAX_LAYERS:
        raise CheckpointError(f"AutoencoderKL config: sizes {sizes} or layers_per_block out of genloom's bounds")
    if cfg.norm_num_groups < 1 or any(c % cfg.norm_num_groups for c in ch):
        raise CheckpointError(f"AutoencoderKL config: norm_num_groups {cfg.norm_num_groups} does not divide "
                              f"block_out_channels {ch}")
    if not 1 <= cfg.sample_size <= MAX_SIZE or cfg.sample_size % 2 ** (len(ch) - 1):
        raise CheckpointError(f"AutoencoderKL config: sample_size {cfg.sample_size} is out of bounds or not "
                              f"divisible by 2^{len(ch) - 1}")


def vae_config(hf: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``diffusers_vae`` model section for an ``AutoencoderKL`` ``config.json``."""
    for key, value in FIXED.items():
        if hf.get(key, value) != value:
            raise CheckpointError(f"'{where}': {key}={hf[key]!r} is not supported; genloom holds {key}={value!r}")
    sample = hf.get("sample_size", 32)
    if isinstance(sample, list):
        if len(sample) != 2 or sample[0] != sample[1]:
            raise CheckpointError(f"'{where}': sample_size {sample} is not square")
        sample = sample[0]
    known = set(VAEConfig.__dataclass_fields__)
    extra = sorted(k for k in hf if k not in known and k not in FIXED and not k.startswith("_"))
    if extra:
        raise CheckpointError(f"'{where}': AutoencoderKL option '{extra[0]}' is not supported by genloom")
    return {"name": "diffusion:diffusers_vae", **{k: hf[k] for k in known if k in hf}, "sample_size": sample}


def to_genloom(tensors: dict[str, Any]) -> dict[str, Any]:
    """AutoencoderKL's tensor names as :class:`DiffusersVAE`'s state-dict keys."""
    out = {}
    for key, value in tensors.items():
        if key.startswith("quant_conv."):
            key = "encoder." + key
        elif key.startswith("post_quant_conv."):
            key = "decoder." + key
        out[key] = value
    return out
