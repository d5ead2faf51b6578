"""Video metrics, each reported with its real-data floor (held-out clips measured the
same way), as ``test/<name>`` and ``test/<name>_floor``:

| metric | what it measures | better |
|---|---|---|
| ``frame_fid`` | Fréchet distance of single frames (resized to 28x28) to training frames, in the shipped MNIST classifier's features | lower |
| ``identity`` | share of frames the shipped classifier gives the clip's majority digit (a digit window around the brightness centroid, resized to 28x28); one digit per clip | higher |
| ``smoothness`` | mean absolute centroid acceleration, pixels per frame² (a digit moving in a straight line: ~0; bounces add some) | near the floor |
| ``speed`` (with smoothness) | mean centroid speed, pixels per frame | near the floor |

Samples are drawn once per model state with the run's seed and ``sample`` options, as
many as the test split holds (or ``genloom evaluate --n``). The option ``task`` says
which: ``generate`` (default) draws clips from nothing with the run's sampler;
``predict`` (``genloom evaluate RUN --metric video --set video.task=predict``) makes
each sample continue the first frame of one of the held-out clips with
``video:predict``, so its frame 0 is real and the rest is the model's.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from genloom.errors import ConfigError

_SAMPLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check(model: Any, metric: str) -> None:
    if model.info.kind != "video" or len(model.info.shape) != 4 or model.info.shape[1] != 1:
        raise ConfigError(f"metric {metric} measures grey video clips, not {model.info.kind!r} data "
                          f"(data.name=moving_mnist)")


def real_clips(datamodule: Any, split: str) -> Tensor:
    return datamodule.split(split).x


def sampled_clips(model: Any, n: int, first: Tensor | None = None) -> Tensor:
    """``n`` seeded clips from ``model`` (cached while its weights are unchanged): from
    nothing with the run's sampler, or continuing the frames ``first`` ``(n, c, h, w)``
    with ``video:predict`` (and the run's ``steps``/``eta``)."""
    version = (n, int(model.run_cfg.seed), tuple(p._version for p in model.parameters()),
               None if first is None else hash(first.numpy().tobytes()))
    cached = _SAMPLES.get(model)
    if cached is not None and cached[0] == version:
        return cached[1]
    sample_cfg = model.run_cfg.get("sample") or {}
    sampler = sample_cfg.get("sampler") or None
    options = dict(sample_cfg.get("options") or {})
    if first is not None:
        sampler = "video:predict"
        options = {k: v for k, v in options.items() if k in ("steps", "eta")}
        options["context"] = first
    generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
    clips = model.sample(n, sampler=sampler, generator=generator, **options).data
    _SAMPLES[model] = (version, clips)
    return clips


def _sets(model: Any, datamodule: Any, metric: str, task: str = "generate") -> tuple[Tensor, Tensor, Tensor]:
    """``(samples, held-out, training)`` clips; as many of each as held-out clips. With
    ``task="predict"`` the samples continue the held-out clips' first frames."""
    _check(model, metric)
    test = real_clips(datamodule, "test")
    n = getattr(datamodule, "eval_n", None) or len(test)
    if not 2 <= n <= len(test):
        raise ConfigError(f"metric {metric}: give --n from 2 to {len(test)} (the held-out clips, for "
                          "the real-data floor); data.test_fraction sets how many there are")
    g = torch.Generator().manual_seed(int(model.run_cfg.seed))
    test = test[torch.randperm(len(test), generator=g)[:n]]
    train = real_clips(datamodule, "train")
    train = train[torch.randperm(len(train), generator=g)[:n]]
    return sampled_clips(model, n, test[:, 0] if task == "predict" else None), test, train


def _classifier() -> Any:
    from genloom_eval.metrics.classifier import load_classifier

    return load_classifier("mnist")


def frame_features(clips: Tensor) -> Tensor:
    """The shipped MNIST classifier's features of every frame, resized to 28x28."""
    from genloom_eval.metrics.classifier import batched

    frames = clips.flatten(0, 1).float().clamp(-1, 1)
    frames = F.interpolate(frames, size=(28, 28), mode="bilinear", align_corners=False)
    return batched(_classifier().features, frames)


def frame_fid(clips: Tensor, reference: Tensor) -> float:
    from genloom_eval.metrics.frechet import frechet_distance

    return frechet_distance(frame_features(clips).double(), frame_features(reference).double())


def centroids(clips: Tensor) -> Tensor:
    """``(n, frames, 2)`` brightness-weighted (row, col) centroids of grey clips in [-1, 1]."""
    w = (clips[:, :, 0].float().clamp(-1, 1) + 1) / 2
    h, wd = w.shape[-2:]
    mass = w.sum((-2, -1)).clamp_min(1e-6)
    rows = (w.sum(-1) * torch.arange(h, dtype=w.dtype)).sum(-1) / mass
    cols = (w.sum(-2) * torch.arange(wd, dtype=w.dtype)).sum(-1) / mass
    return torch.stack([rows, cols], -1)


def digit_windows(clips: Tensor, side: int) -> Tensor:
    """``(n * frames, 1, 28, 28)``: a ``side``-pixel window around each frame's centroid."""
    n, t, _, h, w = clips.shape
    c = centroids(clips).flatten(0, 1)
    padded = F.pad(clips.flatten(0, 1).float(), (side,) * 4, value=-1.0)
    out = []
    for frame, (r, col) in zip(padded, c.round().long().tolist()):
        top, left = r + side - side // 2, col + side - side // 2
        out.append(frame[:, top : top + side, left : left + side])
    return F.interpolate(torch.stack(out), size=(28, 28), mode="bilinear", align_corners=False)


def identity(clips: Tensor, digit_size: int) -> float:
    """Mean over clips of the share of frames labelled with the clip's majority digit."""
    from genloom_eval.metrics.classifier import batched

    n, t = clips.shape[:2]
    labels = batched(_classifier(), digit_windows(clips, digit_size)).argmax(1).reshape(n, t)
    majority = labels.mode(dim=1).values
    return float((labels == majority[:, None]).float().mean())


def motion(clips: Tensor) -> tuple[float, float]:
    """``(mean |acceleration|, mean speed)`` of the centroids, pixels per frame (squared)."""
    c = centroids(clips)
    v = c[:, 1:] - c[:, :-1]
    a = v[:, 1:] - v[:, :-1]
    speed = float(v.norm(dim=-1).mean()) if v.numel() else 0.0
    accel = float(a.norm(dim=-1).mean()) if a.numel() else 0.0
    return accel, speed


def _digit_size(model: Any, metric: str) -> int:
    data = model.run_cfg.data
    if int(data.get("num_digits", 1)) != 1:
        raise ConfigError(f"metric {metric} follows one digit per clip; data.num_digits is {data.num_digits}")
    return int(data.get("digit_size", 28))


def measure(name: str, model: Any, samples: Tensor, test: Tensor, train: Tensor) -> dict[str, float]:
    if name == "frame_fid":
        return {"test/frame_fid": frame_fid(samples, train), "test/frame_fid_floor": frame_fid(test, train)}
    if name == "identity":
        side = _digit_size(model, name)
        return {"test/identity": identity(samples, side), "test/identity_floor": identity(test, side)}
    (a, s), (a0, s0) = motion(samples), motion(test)
    return {"test/smoothness": a, "test/smoothness_floor": a0, "test/speed": s, "test/speed_floor": s0}


#: what ``task`` may be: clips from nothing, or continuations of a held-out first frame
TASKS = ("generate", "predict")


class _VideoMetric:
    measures: tuple[str, ...] = ()
    metric = ""

    def __init__(self, task: str = "generate") -> None:
        """``task``: ``generate`` (clips from nothing) or ``predict`` (continue held-out first frames)."""
        if task not in TASKS:
            raise ConfigError(f"--set {self.metric}.task={task}: give one of {', '.join(TASKS)}")
        self.task = task

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        samples, test, train = _sets(model, datamodule, self.metric, self.task)
        out: dict[str, float] = {}
        for name in self.measures:
            out.update(measure(name, model, samples, test, train))
        return out


class FrameFID(_VideoMetric):
    metric, measures = "frame_fid", ("frame_fid",)


class Identity(_VideoMetric):
    metric, measures = "identity", ("identity",)


class Smoothness(_VideoMetric):
    metric, measures = "smoothness", ("smoothness",)


class Video(_VideoMetric):
    metric, measures = "video", ("frame_fid", "identity", "smoothness")
