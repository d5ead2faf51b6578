"""A small CLIP-style image-text model for the captioned digits: the second opinion on
prompt fidelity.

``prompt_fidelity`` measures each asked attribute with the code that wrote the captions;
that is exact but only for what the captioner knows how to measure. A contrastive
image-text model (Radford et al., 2021, "CLIP") scores the whole prompt against the whole
image instead, as the CLIPScore of text-to-image papers does, and is learned from the
pairs, not written by hand. This one is small enough to train on a CPU in minutes and to
ship with the package:

* the image encoder is a conv net (28x28 -> 14 -> 7 -> 4) whose 4x4 map is flattened
  into a linear layer, not averaged, so where the digit sits (an attribute the captions
  tell) survives;
* the text encoder is genloom-text's ``text:chars`` :class:`~genloom_text.encoder.CharEncoder`
  (the alphabet and context the t2i prompts use), its states averaged over the characters
  and projected;
* both land in one ``embed``-wide space, unit-normalised; the logits are their cosines
  times a learned temperature ``exp(logit_scale)`` (clamped at 100, as CLIP's).

The weights are safetensors with the architecture in the metadata (``config``, JSON of
small integers, checked against bounds before anything is built) and what the training
script recorded beside it. :func:`load_clip` builds the module from that config, checks
every tensor's name and shape in the file's header against it, then loads; a file that
fails any check is a one-line :class:`~genloom.errors.ConfigError`. No code in the file
runs: safetensors holds only tensors and strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError

#: the weights this package ships, made by ``python -m genloom_t2i.clip_train``
SHIPPED = Path(__file__).parent / "weights" / "clip.safetensors"

#: the architecture keys of the metadata's ``config`` and the range each may take: a
#: file cannot make the loader allocate more than a model of these bounds
BOUNDS: dict[str, tuple[int, int]] = {"width": (4, 256), "embed": (4, 512), "text_dim": (8, 256),
                                      "text_layers": (0, 8), "text_heads": (1, 16), "context": (1, 512)}
#: the retrieval task: the right text among this many (the metric's and the script's default)
CANDIDATES = 10
#: CLIP's ceiling on the learned temperature
MAX_SCALE = 100.0


class ImageEncoder(nn.Module):
    """Grey 28x28 images in [-1, 1] to ``(n, embed)`` vectors: three strided convs, then a
    linear layer over the flattened 4x4 map (position kept)."""

    def __init__(self, width: int, embed: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1), nn.SiLU()]
        channels = width
        for out in (width, 2 * width, 2 * width):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.SiLU()]
            channels = out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.proj = nn.Linear(channels * 16, embed)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.body(x.float()))


class Clip(nn.Module):
    """An image encoder and a ``text:chars`` encoder projected to one space, with a
    learned temperature. ``config`` holds the keys of :data:`BOUNDS`."""

    def __init__(self, width: int = 24, embed: int = 64, text_dim: int = 48, text_layers: int = 1,
                 text_heads: int = 4, context: int = 96) -> None:
        super().__init__()
        from genloom_text.encoder import CharEncoder

        self.config = {"width": width, "embed": embed, "text_dim": text_dim, "text_layers": text_layers,
                       "text_heads": text_heads, "context": context}
        self.image = ImageEncoder(width, embed)
        self.text = CharEncoder(CharEncoder.Config(context=context, dim=text_dim, layers=text_layers,
                                                   heads=text_heads))
        self.text_proj = nn.Linear(text_dim, embed)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # CLIP's start

    def encode_images(self, x: Tensor) -> Tensor:
        """``(n, embed)`` unit vectors of images ``(n, 1, 28, 28)``."""
        return nn.functional.normalize(self.image(x), dim=1)

    def encode_tokens(self, ids: Tensor) -> Tensor:
        """``(n, embed)`` unit vectors of the encoder's ids ``(n, context)``."""
        from genloom_t2i.unet import pooled_states

        states, mask = self.text(ids)
        return nn.functional.normalize(self.text_proj(pooled_states(states, mask)), dim=1)

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """``(n, embed)`` unit vectors of prompts (one-line ConfigError for a bad one)."""
        return self.encode_tokens(self.text.tokenize(texts))

    def scale(self) -> Tensor:
        return self.logit_scale.exp().clamp(max=MAX_SCALE)

    def loss(self, images: Tensor, ids: Tensor) -> Tensor:
        """The symmetric InfoNCE loss of a batch of matching pairs (row i with row i)."""
        logits = self.scale() * self.encode_images(images) @ self.encode_tokens(ids).T
        target = torch.arange(len(images), device=images.device)
        return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2


def cosines(model: Clip, images: Tensor, texts: Sequence[str], batch: int = 256) -> Tensor:
    """``(n,)`` cosine of image i with text i, without gradients."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            part = slice(start, start + batch)
            out.append((model.encode_images(images[part]) * model.encode_texts(texts[part])).sum(1))
    return torch.cat(out) if out else torch.zeros(0)


def clip_score(model: Clip, images: Tensor, texts: Sequence[str]) -> float:
    """CLIPScore without its 2.5 weight: the mean of ``100 * max(cos, 0)`` over the pairs
    ``(images[i], texts[i])`` (Hessel et al., 2021)."""
    return float((100 * cosines(model, images, texts).clamp(min=0)).mean())


def retrieval_accuracy(model: Clip, images: Tensor, texts: Sequence[str], candidates: int, seed: int) -> float:
    """The share of images whose own text scores strictly highest among ``candidates``
    texts: its own and ``candidates - 1`` texts of other rows, drawn with ``seed``. A
    distractor that says the same thing ties, and a tie counts as a miss, so real pairs
    score below 1 (their floor is reported beside)."""
    n = len(images)
    if n < 2:
        return float("nan")
    k = min(candidates, n)
    with torch.no_grad():
        zi, zt = model.encode_images(images), model.encode_texts(texts)
    g = torch.Generator().manual_seed(seed)
    # distractor j of row i: another row, uniformly (an offset in 1..n-1 from i)
    others = (torch.arange(n)[:, None] + torch.randint(1, n, (n, k - 1), generator=g)) % n
    own = (zi * zt).sum(1)
    rival = torch.einsum("nd,nkd->nk", zi, zt[others])
    return float((own[:, None] > rival).all(1).float().mean())


def save_clip(model: Clip, path: str | Path, metadata: dict[str, Any]) -> None:
    """Write the weights as safetensors: the architecture in ``config``, then ``metadata``
    (every value a string, as safetensors requires)."""
    from safetensors.torch import save_file

    meta = {"config": json.dumps(model.config), **{k: str(v) for k, v in metadata.items()}}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=meta)


def _config_of(meta: dict[str, str] | None, where: str) -> dict[str, int]:
    try:
        cfg = json.loads((meta or {})["config"])
    except (KeyError, ValueError):
        raise ConfigError(f"{where} has no architecture in its metadata; write it with "
                          "python -m genloom_t2i.clip_train --out FILE") from None
    if not isinstance(cfg, dict) or set(cfg) != set(BOUNDS):
        raise ConfigError(f"{where}: its config must have exactly the keys {', '.join(BOUNDS)}")
    for key, (low, high) in BOUNDS.items():
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where}: config {key}={value!r} is outside {low}..{high}")
    if cfg["text_dim"] % cfg["text_heads"]:
        raise ConfigError(f"{where}: config text_dim must be a multiple of text_heads")
    return cfg


def clip_metadata(path: str | Path = SHIPPED) -> dict[str, str]:
    """The metadata of a weights file (what the training script recorded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise ConfigError(f"CLIP weights {str(path)!r} are not a safetensors file "
                          f"({' '.join(str(err).split())})") from None


_LOADED: dict[tuple[str, int, int], Clip] = {}


def load_clip(path: str | Path = SHIPPED) -> Clip:
    """The model in ``path`` (default: the shipped one), in eval mode; one-line
    ConfigErrors for a missing, damaged or mismatched file. Cached per file and mtime."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    where = f"CLIP weights {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file; make one with python -m genloom_t2i.clip_train --out FILE")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _LOADED:
        return _LOADED[key]
    try:
        with safe_open(str(path), framework="pt") as f:
            model = Clip(**_config_of(f.metadata(), where))
            own = model.state_dict()
            names = set(f.keys())
            if names != set(own):
                missing, extra = sorted(set(own) - names), sorted(names - set(own))
                raise ConfigError(f"{where} do not fit the model: missing {missing[:3]}, unexpected {extra[:3]}")
            for name, tensor in own.items():
                shape = tuple(f.get_slice(name).get_shape())
                if shape != tuple(tensor.shape):
                    raise ConfigError(f"{where}: {name} has shape {shape}, the model needs {tuple(tensor.shape)}")
            state = {name: f.get_tensor(name) for name in own}
    except (SafetensorError, OSError, ValueError) as err:
        raise ConfigError(f"{where} are not a readable safetensors file ({' '.join(str(err).split())})") from None
    if not all(bool(torch.isfinite(v).all()) for v in state.values()):
        raise ConfigError(f"{where} hold non-finite values; retrain them")
    model.load_state_dict(state)
    model = model.eval().requires_grad_(False)
    _LOADED[key] = model
    return model
