"""The core's own plugin: built-in datasets, samplers and sample kinds (the text
components are the ``text`` plugin's, in genloom-text; the evaluation metrics and
datasets are the ``eval`` plugin's, in genloom-eval).

Registered through the same hooks as any installed plugin (as pytest does with its
internal plugins), under the plugin name ``genloom``. Text (tokenizers, decoding
samplers, the ``text`` dataset, the ``tokens`` kind) is the ``genloom-text`` library's.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("dataset", "digits", "genloom.data.digits:Digits",
             help="the built-in 8x8 handwritten digits, 1,797 images with labels")
    register("dataset", "toy2d", "genloom.data.toy2d:Toy2D",
             help="2-D point clouds: moons, swiss_roll, gaussians8, checkerboard")
    register("sampler", "prior", "genloom.samplers.prior:PriorSampler",
             help="z ~ N(0, I) decoded by a one-shot Generator (options: temperature)")
    register("sample_kind", "image", "genloom.kinds.image:ImageKind",
             help="(n, c, h, w) images in [-1, 1]; PNG grids")
    register("sample_kind", "points", "genloom.kinds.points:PointsKind",
             help="(n, d) points; PNG scatter plots")
    register("sampler", "latent_prior", "genloom.samplers.latent_prior:LatentPriorSampler",
             help="latents from the model's prior (a model of its own), then decoded "
                  "(options: prior_sampler, prior.*)")
