"""``predict``: continue a given first frame (video prediction), DDIM underneath.

The denoiser sees the first frame as context at every step and as the clip's frame 0,
clean at every step (it was trained so); the clip's frame 0 is the given frame. ``context`` is a tensor ``(1 or n, c, h, w)`` in
[-1, 1] from Python, or on the command line a ``.png`` or ``.gif`` file whose (first)
frame is exactly one frame of the model's size, used for every sample::

    genloom sample runs/video-mnist --sampler video:predict context=first.png --out next.gif
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genloom import ConfigError, Samples
from genloom_diffusion.samplers.ddim import DDIM

#: the largest context image read, in bytes (it is untrusted input)
MAX_CONTEXT_BYTES = 16 * 1024 * 1024


def read_context(path: str | Path, shape: tuple[int, ...]) -> Tensor:
    """The first frame of the image file ``path`` as ``(1, c, h, w)`` in [-1, 1]."""
    from PIL import Image

    _, c, h, w = shape
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"context={path}: no such file; give a .png or .gif of one {h}x{w} frame")
    if p.stat().st_size > MAX_CONTEXT_BYTES:
        raise ConfigError(f"context={path}: larger than {MAX_CONTEXT_BYTES} bytes; refused")
    try:
        with Image.open(p) as im:
            if im.size != (w, h):
                raise ConfigError(f"context={path} is {im.size[0]}x{im.size[1]} pixels; the model's "
                                  f"frames are {w}x{h}")
            frame = np.asarray(im.convert("L" if c == 1 else "RGB"))
    except OSError as exc:
        raise ConfigError(f"context={path}: not a readable image ({exc})") from None
    x = torch.from_numpy(frame.copy()).float() / 127.5 - 1
    return (x[None] if c == 1 else x.permute(2, 0, 1))[None]


class Predict(DDIM):
    """DDIM conditioned on a first frame; drives ``video_diffusion`` models."""

    label = "predict"

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        eta: float = 0.0,
        context: Any = None,
    ) -> Samples:
        """``context``: the first frame(s) to continue (tensor, or a .png/.gif path);
        ``steps``: timesteps to visit (default 50); ``eta``: 0 deterministic .. 1 DDPM-like."""
        shape = tuple(getattr(model, "sample_shape", ()))
        if len(shape) != 4:
            raise ConfigError("sampler video:predict drives video models (model.name=video_diffusion)")
        if context is None:
            raise ConfigError("sampler video:predict needs a first frame: context=FILE.png")
        first = read_context(context, shape) if isinstance(context, (str, Path)) else context.float()
        if first.dim() != 4 or tuple(first.shape[1:]) != shape[1:] or len(first) not in (1, n):
            raise ConfigError(f"context must be (1 or {n}, {', '.join(map(str, shape[1:]))}) frames, "
                              f"got {tuple(first.shape)}")
        if not 0.0 <= eta <= 1.0:
            raise ConfigError(f"eta must be between 0 and 1, got {eta}")
        first = first.clamp(-1, 1).expand(n, *shape[1:])
        return self.sample_loop(model, n, cond=None, generator=generator, steps=steps,
                                guidance=1.0, clip=None, eta=eta, context=first)

    def initial_x(self, run: Any, model: Any, n: int, generator: torch.Generator | None, t: int) -> Tensor:
        run.cond = run.options["context"].to(run.device, run.dtype)  # the denoiser's first frame
        x = super().initial_x(run, model, n, generator, t)
        x[:, 0] = run.cond  # frame 0 stays clean throughout, as in training
        return x

    def step(self, run: Any, x: Tensor, t: int, t_next: int) -> Tensor:
        """DDIM's step for the later frames; frame 0 stays the given frame."""
        x = super().step(run, x, t, t_next)
        x[:, 0] = run.cond
        return x

    def finish(self, run: Any, x: Tensor, cond: Tensor | None) -> Samples:
        x = x.clone()
        x[:, 0] = run.cond  # the given frame is the clip's first
        samples = super().finish(run, x, None)
        samples.extras["context"] = run.cond.float().cpu()
        return samples
