"""The decoding samplers the core registers: ``multinomial``, ``greedy`` and ``beam``.

They drive any :class:`~genloom.AutoregressiveGenerator` a model exposes, so every
autoregressive plugin gets them without importing another plugin. Options are
keyword-only parameters, so ``genloom sample CKPT --sampler beam beams=4`` and
``sample.options`` in a config set them. Samples are token ids ``(n, length)``, prompt
included; ``extras["lengths"]`` holds each row's length (rows stopped by a stop string
are shorter; the rest of the row is 0) and ``extras["prompt_length"]`` the prompt's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genloom_text.decoding.beam import beam_search
from genloom_text.decoding.loop import generate
from genloom_text.decoding.processors import check_options
from genloom_text.decoding.prompt import encode_prompt, tokenizer_of
from genloom_text.decoding.stops import StopStrings, parse_stop
from genloom.samplers.prior import sample_kind_of
from genloom.errors import ConfigError
from genloom.interfaces import AutoregressiveGenerator, Sampler, Samples


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def _row_cond(cond: Tensor | None, n: int, device: torch.device) -> Tensor | None:
    """``cond`` for ``n`` rows: one label for every row, or one per row (each honoured)."""
    if cond is None:
        return None
    if len(cond) not in (1, n):
        raise ConfigError(f"cond has {len(cond)} rows for {n} samples; give one label or one per sample")
    return cond.to(device)


def _with_retrieval(model: Any, gen: Any, weight: float, k: int, temperature: float, store: Any) -> Any:
    """``gen``, or (``weight`` > 0) ``gen`` with kNN-LM retrieval mixed into its steps.
    At weight 0 nothing is loaded or wrapped: sampling is exactly the model's."""
    from genloom_text.retrieval import KNNGenerator, check_knn, hidden_generator, load_datastore

    check_knn(weight, k, temperature, store)
    if weight == 0:
        return gen
    hidden = hidden_generator(model)
    data = load_datastore(str(store), int(hidden.hidden_size), int(gen.vocab_size))
    return KNNGenerator(gen, data, float(weight), int(k), float(temperature))


class _Decoding(Sampler):
    drives = AutoregressiveGenerator

    def _prepare(self, model: Any, prompt: str, max_new_tokens: int) -> tuple[Any, Tensor]:
        gen = self.check(model)
        _check_count("max_new_tokens", max_new_tokens, 0)
        return gen, encode_prompt(model, prompt, gen.vocab_size)


class MultinomialSampler(_Decoding):
    """Draw each next token from the model's distribution, reshaped by the options.

    ``temperature`` (0 means greedy), ``top_k`` (0: off), ``top_p`` (nucleus; 1: off),
    ``repetition_penalty`` (1: off), ``stop`` (a string or list; the row ends after
    the token that completes one), ``max_new_tokens``. Rows are independent draws
    continuing the same ``prompt``. ``on_token`` (Python only) is called with each
    new ``(n,)`` token batch, for streaming. ``knn_weight`` (0: off), ``knn_k``,
    ``knn_temperature`` and ``knn_store`` (a run with ``genloom retrieve build``'s
    datastore) mix kNN-LM retrieval into the distribution (:mod:`genloom_text.retrieval`).
    """

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        prompt: str = "",
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        stop: Any = None,
        on_token: Callable[[Tensor], None] | None = None,
        knn_weight: float = 0.0,
        knn_k: int = 16,
        knn_temperature: float = 1.0,
        knn_store: str | None = None,
    ) -> Samples:
        return self._run(
            model, n, cond=cond, generator=generator, prompt=prompt, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, top_p=top_p,
            repetition_penalty=repetition_penalty, stop=stop, on_token=on_token, greedy=False,
            knn=(knn_weight, knn_k, knn_temperature, knn_store),
        )

    def _run(self, model: Any, n: int, *, cond: Tensor | None, generator: Any, prompt: str,
             max_new_tokens: int, stop: Any, on_token: Any, greedy: bool, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
             knn: tuple[float, int, float, Any] = (0.0, 16, 1.0, None)) -> Samples:
        gen, ids = self._prepare(model, prompt, max_new_tokens)
        gen = _with_retrieval(model, gen, *knn)
        _check_count("top_k", top_k, 0)
        check_options(temperature, top_k, top_p, repetition_penalty)
        stops = StopStrings(tokenizer_of(model), parse_stop(stop), n)
        device = next(gen.parameters()).device
        tokens, lengths = generate(
            gen, ids, n, max_new_tokens=max_new_tokens, greedy=greedy, temperature=temperature,
            top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty, stops=stops,
            cond=_row_cond(cond, n, device), generator=generator, on_token=on_token,
        )
        return Samples(
            data=tokens, kind=sample_kind_of(model), cond=None if cond is None else cond.cpu(),
            extras={"lengths": lengths, "prompt_length": ids.shape[1]},
        )


class GreedySampler(MultinomialSampler):
    """Always the most likely next token: deterministic, the same for every row.

    Options: ``prompt``, ``max_new_tokens``, ``repetition_penalty``, ``stop``, and the
    kNN-LM options ``knn_weight``, ``knn_k``, ``knn_temperature``, ``knn_store``.
    """

    def sample(  # type: ignore[override]
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        prompt: str = "",
        max_new_tokens: int = 200,
        repetition_penalty: float = 1.0,
        stop: Any = None,
        on_token: Callable[[Tensor], None] | None = None,
        knn_weight: float = 0.0,
        knn_k: int = 16,
        knn_temperature: float = 1.0,
        knn_store: str | None = None,
    ) -> Samples:
        return self._run(
            model, n, cond=cond, generator=generator, prompt=prompt, max_new_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty, stop=stop, on_token=on_token, greedy=True,
            knn=(knn_weight, knn_k, knn_temperature, knn_store),
        )


class BeamSampler(_Decoding):
    """Beam search with ``beams`` hypotheses; returns the ``n`` best (``n <= beams``).

    Options: ``prompt``, ``max_new_tokens``, ``beams``, ``length_penalty`` (finished
    hypotheses' log-probability is divided by ``length ** length_penalty``), ``stop``.
    Deterministic: the seed does not matter. ``extras["scores"]`` holds the scores.
    """

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        prompt: str = "",
        max_new_tokens: int = 200,
        beams: int = 4,
        length_penalty: float = 1.0,
        stop: Any = None,
    ) -> Samples:
        gen, ids = self._prepare(model, prompt, max_new_tokens)
        _check_count("beams", beams, 1)
        if n > beams:
            raise ConfigError(
                f"beam search returns at most beams={beams} hypotheses, not n={n}; "
                f"ask for fewer samples or set beams={n}"
            )
        stops, tokenizer = parse_stop(stop), tokenizer_of(model)
        if stops and tokenizer is None:
            raise ConfigError("stop strings need a model with a tokenizer to decode its text")
        device = next(gen.parameters()).device
        if cond is not None and bool((cond != cond[:1]).any()):
            raise ConfigError("beam search follows one condition; give one label, not one per sample")
        hyps = beam_search(
            gen, ids, beams=beams, max_new_tokens=max_new_tokens, length_penalty=length_penalty,
            stops=stops, tokenizer=tokenizer, cond=None if cond is None else cond.to(device)[:1],
        )[:n]
        width = max(len(h.ids) for h in hyps)
        data = torch.zeros((n, width), dtype=torch.long)
        for i, h in enumerate(hyps):
            data[i, : len(h.ids)] = torch.tensor(h.ids)
        return Samples(
            data=data, kind=sample_kind_of(model), cond=None if cond is None else cond.cpu(),
            extras={
                "lengths": torch.tensor([len(h.ids) for h in hyps]),
                "prompt_length": ids.shape[1],
                "scores": torch.tensor([h.score for h in hyps]),
            },
        )
