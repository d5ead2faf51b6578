"""The core's own plugin (name ``genloom``): its datasets, samplers and sample kinds,
registered through a component table like any installed plugin's (as pytest does with
its internal plugins).
"""

from __future__ import annotations

#: ``"kind:name": ("package.module:Attr", "help")``, read without running this module
GENLOOM_COMPONENTS = {
    "dataset:digits": ("genloom.data.digits:Digits",
                       "the built-in 8x8 handwritten digits, 1,797 images with labels"),
    "dataset:toy2d": ("genloom.data.toy2d:Toy2D",
                      "2-D point clouds: moons, swiss_roll, gaussians8, checkerboard"),
    "dataset:given": ("genloom.data.items:GivenData",
                      "the torch Dataset, IterableDataset or DataLoader of genloom.train(cfg, data=...)"),
    "sampler:prior": ("genloom.samplers.prior:PriorSampler",
                      "z ~ N(0, I) decoded by a one-shot Generator (options: temperature)"),
    "sample_kind:image": ("genloom.kinds.image:ImageKind",
                          "(n, c, h, w) images in [-1, 1]; PNG grids"),
    "sample_kind:points": ("genloom.kinds.points:PointsKind",
                           "(n, d) points; PNG scatter plots"),
    "sampler:latent_prior": ("genloom.samplers.latent_prior:LatentPriorSampler",
                             "latents from the model's prior (a model of its own), then decoded "
                             "(options: prior_sampler, prior.*)"),
}
