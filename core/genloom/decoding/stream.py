"""Text output of ``genloom sample`` for token models: streamed to stdout, or a file.

The CLI draws the ``--n`` samples one after another from one seeded generator, so the
text is the same whether it is streamed or written with ``--out``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genloom.decoding.prompt import encode_prompt, tokenizer_of
from genloom.errors import GenloomError
from genloom.interfaces import AutoregressiveGenerator, Samples

SEPARATOR = "\n" + "-" * 40 + "\n"


class TextStream:
    """Turns ids arriving one at a time into text that is safe to print.

    Decodes the whole sequence each time and emits only what is new; a tail that
    decodes to U+FFFD (an unfinished UTF-8 sequence of a byte model) waits for the
    next token.
    """

    def __init__(self, tokenizer: Any, ids: list[int]) -> None:
        self.tokenizer, self.ids, self.emitted = tokenizer, list(ids), 0

    def push(self, token: int | None = None, *, final: bool = False) -> str:
        if token is not None:
            self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd") and not final:
            return ""
        new, self.emitted = text[self.emitted :], len(text)
        return new


def _accepts(sampler: Any, option: str) -> bool:
    return option in inspect.signature(sampler.sample).parameters


def join_samples(parts: list[Samples]) -> Samples:
    """Token samples of different widths as one batch padded with 0."""
    width = max(p.data.shape[1] for p in parts)
    data = torch.zeros((sum(len(p.data) for p in parts), width), dtype=torch.long)
    lengths, row = [], 0
    for p in parts:
        data[row : row + len(p.data), : p.data.shape[1]] = p.data
        row += len(p.data)
        lengths += p.extras.get("lengths", torch.full((len(p.data),), p.data.shape[1])).tolist()
    extras = {"lengths": torch.tensor(lengths), "prompt_length": parts[0].extras.get("prompt_length", 0)}
    return Samples(data=data, kind="tokens", extras=extras)


def sample_text(
    model: Any,
    n: int,
    *,
    sampler: str | None,
    seed: int,
    options: dict[str, Any],
    write: Callable[[str], None],
) -> Samples:
    """Draw ``n`` text samples; with ``write``, stream each as it is generated.

    Samplers that stream (``on_token``) draw the samples one after another from one
    seeded generator: the prompt is printed first, then every token as it comes.
    Others (``beam``) draw all ``n`` at once and print them when done. Samples are
    separated by a line of dashes.
    """
    from genloom.sampling import draw, get_sampler

    tokenizer = tokenizer_of(model)
    if tokenizer is None:
        raise GenloomError("this model's checkpoint has no tokenizer, so its samples cannot be shown as text")
    chosen = get_sampler(sampler or model.default_sampler)
    generator = torch.Generator().manual_seed(seed)
    if not _accepts(chosen, "on_token"):  # e.g. beam search: its n samples come together
        batch = draw(model, n, sampler=sampler, generator=generator, **options)
        for i, (row, length) in enumerate(zip(batch.data, batch.extras["lengths"])):
            write((SEPARATOR if i else "") + tokenizer.decode(row[: int(length)].tolist()))
        write("\n")
        return batch
    parts: list[Samples] = []
    for i in range(n):
        if i:
            write(SEPARATOR)
        gen = chosen.check(model)
        prompt_ids = encode_prompt(model, options.get("prompt", ""), gen.vocab_size)
        stream = TextStream(tokenizer, prompt_ids[0].tolist())
        write(stream.push())
        on_token = lambda new, s=stream: write(s.push(int(new[0])))  # noqa: E731
        part = draw(model, 1, sampler=sampler, generator=generator, on_token=on_token, **options)
        parts.append(part)
        stream.ids = part.data[0, : int(part.extras["lengths"][0])].tolist()
        write(stream.push(final=True))
    write("\n")
    return join_samples(parts)


def is_text_model(model: Any) -> bool:
    """Whether ``genloom sample`` should treat the model's samples as text."""
    info = getattr(model, "info", None)
    return getattr(info, "kind", None) == "tokens" and model.component(AutoregressiveGenerator) is not None
