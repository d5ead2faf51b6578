"""``tokens``: ``(n, length)`` integer ids, shown as text through the model's tokenizer.

Streaming is this kind's property: ``genloom sample`` on a token model prints each
sample as it is generated. The samples are drawn one after another from one seeded
generator, so the text is the same whether it is streamed or written with ``--out``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from genloom.errors import GenloomError
from genloom.kinds import SampleKind

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


def decode_tokens(tokens: Tensor, info: Any, lengths: Tensor | None = None) -> list[str]:
    """Each row as text; ``lengths`` (decoding samplers' ``extras``) cuts off the padding."""
    from genloom_text.tokenizers import tokenizer_from_state

    tok = tokenizer_from_state(info.tokenizer)
    if lengths is None:
        return [tok.decode(row.tolist()) for row in tokens]
    return [tok.decode(row[: int(k)].tolist()) for row, k in zip(tokens, lengths)]


def join_samples(parts: list[Any]) -> Any:
    """Token samples of different widths as one batch padded with 0."""
    from genloom.interfaces import Samples

    width = max(p.data.shape[1] for p in parts)
    data = torch.zeros((sum(len(p.data) for p in parts), width), dtype=torch.long)
    lengths, row = [], 0
    for p in parts:
        data[row : row + len(p.data), : p.data.shape[1]] = p.data
        row += len(p.data)
        lengths += p.extras.get("lengths", torch.full((len(p.data),), p.data.shape[1])).tolist()
    extras = {"lengths": torch.tensor(lengths), "prompt_length": parts[0].extras.get("prompt_length", 0)}
    cond = None
    if all(p.cond is not None for p in parts):
        cond = torch.cat([p.cond for p in parts])
    return Samples(data=data, kind=parts[0].kind, cond=cond, extras=extras)


class TokensKind(SampleKind):
    """Token ids; text files (``.txt``), samples separated by a line of dashes."""

    name = "tokens"
    suffixes = (".txt",)
    default_n = 1
    streams = True
    continuous = False

    def write_file(self, samples: Any, path: Path, info: Any) -> None:
        if info is None or not info.tokenizer:
            raise GenloomError("token samples need the data info (tokenizer) to be decoded")
        rows = decode_tokens(samples.data, info, samples.extras.get("lengths"))
        path.write_text(SEPARATOR.join(rows) + "\n", encoding="utf-8")

    def features(self, data: Tensor, info: Any = None) -> Tensor:
        raise GenloomError(
            "token samples have no fixed-size features for data-space metrics; "
            "evaluate text models with the 'losses' metric"
        )

    def random(self, info: Any, n: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, max(1, info.vocab_size), (n, *info.shape), generator=generator)

    def draw(
        self,
        model: Any,
        n: int,
        *,
        sampler: str | None = None,
        cond: Tensor | None = None,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        stream: Callable[[str], None] | None = None,
    ) -> Any:
        """``n`` samples drawn one after another from one seeded generator; with
        ``stream``, the prompt and then every token as it comes, samples separated by a
        line of dashes. Samplers that cannot stream (``beam``) draw all ``n`` at once."""
        from genloom_text.decoding.prompt import encode_prompt, tokenizer_of
        from genloom.sampling import default_sampler_of, draw, get_sampler

        options = dict(options or {})
        write = stream or (lambda s: None)
        tokenizer = tokenizer_of(model)
        if tokenizer is None:
            raise GenloomError(
                "this model's checkpoint has no tokenizer, so its samples cannot be shown as text"
            )
        chosen = get_sampler(sampler) if sampler else default_sampler_of(model)
        generator = torch.Generator().manual_seed(seed)
        if "on_token" not in inspect.signature(chosen.sample).parameters:
            batch = draw(model, n, sampler=sampler, cond=cond, generator=generator, **options)
            for i, (row, length) in enumerate(zip(batch.data, batch.extras["lengths"])):
                write((SEPARATOR if i else "") + tokenizer.decode(row[: int(length)].tolist()))
            write("\n")
            return batch
        gen = chosen.check(model)
        prompt_ids = encode_prompt(model, options.get("prompt", ""), gen.vocab_size)[0].tolist()
        parts = []
        for i in range(n):
            if i:
                write(SEPARATOR)
            text = TextStream(tokenizer, prompt_ids)
            write(text.push())
            on_token = lambda new, s=text: write(s.push(int(new[0])))  # noqa: E731
            row_cond = None if cond is None else cond[i : i + 1]
            part = draw(model, 1, sampler=sampler, cond=row_cond, generator=generator,
                        on_token=on_token, **options)
            parts.append(part)
            text.ids = part.data[0, : int(part.extras["lengths"][0])].tolist()
            write(text.push(final=True))
        write("\n")
        return join_samples(parts)
