"""``diffusers_unet``: diffusers' ``UNet2DModel`` as a genloom :class:`~genloom.Denoiser`.

The network is :mod:`genloom_diffusion.hf_blocks`' re-implementation, with diffusers'
parameter names, so a ``diffusion_pytorch_model.safetensors`` loads into it as it is.
Its config holds the ``UNet2DModel`` options genloom supports, under diffusers' own
names; :func:`unet_config` checks a ``config.json`` against them and turns anything
else (another block type, Fourier time embeddings, class embeddings) into a one-line
error. diffusers itself is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from genloom import Denoiser
from genloom.errors import CheckpointError

from genloom_diffusion.embeddings import check_prediction
from genloom_diffusion.hf_blocks import ACTIVATIONS, DownBlock, MidBlock, TimestepEmbedding, UpBlock, timestep_embedding

DOWN_BLOCKS = {"DownBlock2D": False, "AttnDownBlock2D": True}  # block type: has attention
UP_BLOCKS = {"UpBlock2D": False, "AttnUpBlock2D": True}
#: ``UNet2DModel`` config keys and the only values genloom holds for them (others: any value
#: of the key's type, checked by the Config)
FIXED = {"time_embedding_type": "positional", "downsample_type": "conv", "upsample_type": "conv",
         "class_embed_type": None, "num_class_embeds": None}
#: bounds checked before anything is allocated
MAX_CHANNELS, MAX_SIZE, MAX_LAYERS, MAX_PARAMETERS = 8192, 4096, 64, 10**10


class DiffusersUNet(Denoiser):
    """``UNet2DModel`` (DDPM's UNet as diffusers writes it): positional time embedding,
    ``DownBlock2D``/``AttnDownBlock2D`` down, ``UNetMidBlock2D``, ``UpBlock2D``/
    ``AttnUpBlock2D`` up. Unconditional; ``prediction`` comes from the scheduler."""

    @dataclass
    class Config:
        sample_size: int = 32
        in_channels: int = 3
        out_channels: int = 3
        center_input_sample: bool = False
        time_embedding_dim: int | None = None
        freq_shift: int = 0
        flip_sin_to_cos: bool = True
        down_block_types: list[str] = field(default_factory=lambda: ["DownBlock2D", "AttnDownBlock2D"])
        mid_block_type: str | None = "UNetMidBlock2D"
        up_block_types: list[str] = field(default_factory=lambda: ["AttnUpBlock2D", "UpBlock2D"])
        block_out_channels: list[int] = field(default_factory=lambda: [32, 64])
        layers_per_block: int = 2
        mid_block_scale_factor: float = 1.0
        downsample_padding: int = 1
        dropout: float = 0.0
        act_fn: str = "silu"
        attention_head_dim: int | None = 8
        norm_num_groups: int = 32
        attn_norm_num_groups: int | None = None
        norm_eps: float = 1e-5
        resnet_time_scale_shift: str = "default"
        add_attention: bool = True
        #: what the network predicts (the scheduler's prediction_type): eps, x0 or v
        prediction: str = "eps"

    def __init__(self, cfg: Any, data_shape: tuple[int, ...] = (), num_classes: int = 0,
                 timesteps: int = 1000) -> None:
        super().__init__()
        check_unet(cfg)
        if num_classes:
            raise ValueError("diffusers_unet is unconditional (class embeddings are not supported)")
        self.prediction = check_prediction(cfg.prediction)  # type: ignore[assignment]
        self.cfg = cfg
        ch = list(cfg.block_out_channels)
        temb = cfg.time_embedding_dim or ch[0] * 4
        resnet = {"groups": cfg.norm_num_groups, "eps": cfg.norm_eps, "act": cfg.act_fn,
                  "time_norm": cfg.resnet_time_scale_shift, "dropout": cfg.dropout}
        head = cfg.attention_head_dim
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg.down_block_types):
            cin, cout = cout, ch[i]
            self.down_blocks.append(DownBlock(
                cin, cout, temb, layers=cfg.layers_per_block, attention=DOWN_BLOCKS[kind], head_dim=head or cout,
                downsample=i < len(ch) - 1, padding=cfg.downsample_padding, **resnet))
        self.mid_block = None if cfg.mid_block_type is None else MidBlock(
            ch[-1], temb, attention=cfg.add_attention, head_dim=head or ch[-1],
            attn_groups=cfg.attn_norm_num_groups or (cfg.norm_num_groups if cfg.resnet_time_scale_shift == "default"
                                                     else None),
            output_scale_factor=cfg.mid_block_scale_factor, **resnet)
        rev = ch[::-1]
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i, kind in enumerate(cfg.up_block_types):
            prev, cout = cout, rev[i]
            self.up_blocks.append(UpBlock(
                rev[min(i + 1, len(ch) - 1)], prev, cout, temb, layers=cfg.layers_per_block + 1,
                attention=UP_BLOCKS[kind], head_dim=head or cout, upsample=i < len(ch) - 1, skip=True, **resnet))
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=cfg.norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        cfg = self.cfg
        if cfg.center_input_sample:
            x_t = 2 * x_t - 1.0
        t = t.reshape(-1).expand(len(x_t)) if t.numel() == 1 else t
        emb = self.time_embedding(timestep_embedding(t, cfg.block_out_channels[0], cfg.flip_sin_to_cos,
                                                     cfg.freq_shift).to(x_t.dtype))
        x = self.conv_in(x_t)
        skips = [x]
        for block in self.down_blocks:
            x, states = block(x, emb)
            skips += states
        if self.mid_block is not None:
            x = self.mid_block(x, emb)
        for block in self.up_blocks:
            x = block(x, skips, emb)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


def _fail(msg: str) -> CheckpointError:
    return CheckpointError(msg)


def check_unet(cfg: Any) -> None:
    """One-line errors for a ``diffusers_unet`` config genloom cannot build."""
    ch = list(cfg.block_out_channels)
    down, up = list(cfg.down_block_types), list(cfg.up_block_types)
    bad = [b for b in down if b not in DOWN_BLOCKS] + [b for b in up if b not in UP_BLOCKS]
    if bad:
        raise _fail(f"UNet2DModel block type '{bad[0]}' is not supported; genloom holds "
                    f"{', '.join([*DOWN_BLOCKS, *UP_BLOCKS])}")
    if not (len(ch) == len(down) == len(up)) or not ch:
        raise _fail(f"UNet2DModel config: {len(ch)} block_out_channels, {len(down)} down_block_types and "
                    f"{len(up)} up_block_types must be equal in number")
    if cfg.mid_block_type not in (None, "UNetMidBlock2D"):
        raise _fail(f"UNet2DModel mid_block_type '{cfg.mid_block_type}' is not supported; genloom holds "
                    "UNetMidBlock2D")
    if cfg.act_fn not in ACTIVATIONS:
        raise _fail(f"UNet2DModel act_fn '{cfg.act_fn}' is not supported; genloom holds {', '.join(ACTIVATIONS)}")
    if cfg.resnet_time_scale_shift not in ("default", "scale_shift"):
        raise _fail(f"UNet2DModel resnet_time_scale_shift '{cfg.resnet_time_scale_shift}' is not supported")
    sizes = [*ch, cfg.in_channels, cfg.out_channels, cfg.time_embedding_dim or ch[0] * 4]
    if min(sizes) < 1 or max(sizes) > MAX_CHANNELS:
        raise _fail(f"UNet2DModel config: channel counts must lie in 1..{MAX_CHANNELS}, got {sizes}")
    if not 1 <= cfg.layers_per_block <= MAX_LAYERS or not 1 <= cfg.sample_size <= MAX_SIZE:
        raise _fail("UNet2DModel config: layers_per_block or sample_size is out of genloom's bounds")
    groups = cfg.norm_num_groups
    if groups < 1 or any(c % groups for c in ch):
        raise _fail(f"UNet2DModel config: norm_num_groups {groups} does not divide block_out_channels {ch}")
    if cfg.attention_head_dim is not None and cfg.attention_head_dim < 1:
        raise _fail("UNet2DModel config: attention_head_dim must be positive")
    if cfg.sample_size % 2 ** (len(ch) - 1):
        raise _fail(f"UNet2DModel config: sample_size {cfg.sample_size} is not divisible by "
                    f"2^{len(ch) - 1} (one halving per down block)")
    params = cfg.layers_per_block * 3 * sum(9 * 2 * c * c for c in ch)
    if params > MAX_PARAMETERS:
        raise _fail(f"UNet2DModel config describes ~{params:,} parameters, over genloom's bound")


def unet_config(hf: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``diffusers_unet`` config section for a ``UNet2DModel`` ``config.json`` (as a
    dict); every key genloom does not hold, or holds only one value of, is checked."""
    if hf.get("_class_name") != "UNet2DModel":
        raise _fail(f"'{where}': _class_name {hf.get('_class_name')!r} is not UNet2DModel")
    for key, value in FIXED.items():
        if hf.get(key, value) != value:
            raise _fail(f"'{where}': {key}={hf[key]!r} is not supported; genloom holds {key}={value!r}")
    sample = hf.get("sample_size", 32)
    if isinstance(sample, list):
        if len(sample) != 2 or sample[0] != sample[1]:
            raise _fail(f"'{where}': sample_size {sample} is not square; genloom holds square images")
        sample = sample[0]
    known = {f for f in DiffusersUNet.Config.__dataclass_fields__ if f != "prediction"}
    ignored = {"num_train_timesteps", *FIXED}  # and diffusers' bookkeeping, "_class_name" & co.
    extra = sorted(k for k in hf if k not in known and k not in ignored and not k.startswith("_"))
    if extra:
        raise _fail(f"'{where}': UNet2DModel option '{extra[0]}' is not supported by genloom")
    out = {k: hf[k] for k in known if k in hf}
    out["sample_size"] = sample
    return out
