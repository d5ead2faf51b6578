"""The core's decoding samplers over a toy AutoregressiveGenerator (no plugin needed)."""

import itertools
import math

import pytest
import torch
from torch import nn

from genloom import AutoregressiveGenerator, DataInfo
from genloom_text import LanguageModel
from genloom_text.tokenizers import ByteTokenizer, CharTokenizer
from genloom_text.decoding import processors
from genloom_text.decoding.beam import beam_search
from genloom_text.decoding.cache import select_cache
from genloom_text.kinds import TextStream, TokensKind
from genloom.errors import ConfigError, GenloomError

CHARS = list("abcde\n")


class Bigram(AutoregressiveGenerator):
    """Logits from the last token and the position; the cache is (last token, position).

    ``context_length`` is enforced, so the decoding loop must keep within it.
    """

    def __init__(self, vocab=len(CHARS), context_length=64, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.vocab_size, self.context_length = vocab, context_length
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=g) * 2)
        self.pos = nn.Parameter(torch.randn(context_length, vocab, generator=g) * 0.1)
        self.latent_shape, self.data_shape = (), ()
        self.calls = []

    def step(self, tokens, cache=None, cond=None):
        past = 0 if cache is None else int(cache[1][0])
        n, t = tokens.shape
        assert past + t <= self.context_length, "the loop overran the context"
        self.calls.append(t)
        positions = torch.arange(past, past + t)
        logits = self.table[tokens] + self.pos[positions]
        return logits, (tokens[:, -1:], torch.full((n,), past + t))


class ToyLM(LanguageModel):
    def __init__(self, info, **net):
        super().__init__(None, info)
        self.net = Bigram(vocab=info.vocab_size, **net)


def toy(tokenizer=None, **net):
    tok = tokenizer or CharTokenizer(CHARS)
    return ToyLM(DataInfo(kind="tokens", shape=(9,), vocab_size=tok.vocab_size, tokenizer=tok.state()), **net)


def draw(model, n=3, seed=0, sampler="multinomial", **options):
    return model.sample(n, sampler=sampler, generator=torch.Generator().manual_seed(seed), **options)


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    kept = lambda out: (out > float("-inf")).squeeze(0).tolist()  # noqa: E731
    assert kept(processors.top_k(logits, 2)) == [True, True, False, False, False]
    assert kept(processors.top_p(logits, 0.6)) == [True, True, False, False, False]
    assert kept(processors.top_p(logits, 0.7)) == [True, True, False, False, False]
    assert kept(processors.top_p(logits, 0.71)) == [True, True, True, False, False]
    assert kept(processors.top_p(logits, 1e-6)) == [True, False, False, False, False]
    assert torch.equal(processors.top_k(logits, 0), logits)


def test_repetition_penalty_lowers_seen_tokens_only():
    logits = torch.tensor([[2.0, -1.0, 2.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    out = processors.repetition_penalty(logits, seen, 2.0)
    assert out.tolist() == [[1.0, -2.0, 2.0, -1.0]]


def test_greedy_equals_top_k_1_and_temperature_0():
    model = toy()
    greedy = draw(model, sampler="greedy", prompt="ab", max_new_tokens=20).data
    assert torch.equal(draw(model, prompt="ab", max_new_tokens=20, top_k=1).data, greedy)
    assert torch.equal(draw(model, prompt="ab", max_new_tokens=20, temperature=0).data, greedy)
    assert (greedy == greedy[0]).all()  # every row the same


def test_beam_width_1_equals_greedy():
    model = toy()
    greedy = draw(model, 1, sampler="greedy", prompt="c", max_new_tokens=25).data
    beam = draw(model, 1, sampler="beam", prompt="c", max_new_tokens=25, beams=1).data
    assert torch.equal(beam, greedy)


def test_full_beam_search_finds_the_most_likely_continuation():
    gen = toy().net
    prompt = torch.tensor([[0]])
    vocab = gen.vocab_size

    @torch.no_grad()
    def logp(seq):
        logits, _ = gen.step(torch.tensor([[0, *seq]]))
        lp = logits.log_softmax(-1)[0]
        return sum(float(lp[i, tok]) for i, tok in enumerate(seq))

    best = max(itertools.product(range(vocab), repeat=2), key=logp)
    hyps = beam_search(gen, prompt, beams=vocab, max_new_tokens=2)
    assert hyps[0].ids == [0, *best]
    assert hyps[0].score == pytest.approx(logp(best) / 2**1.0, abs=1e-5)


def test_seeded_sampling_is_deterministic():
    model = toy()
    a, b, c = (draw(model, seed=s, max_new_tokens=30, top_p=0.9, temperature=1.3).data for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (3, 31)  # start token + 30


def test_stop_strings_end_rows_after_the_stop():
    model = toy()
    samples = draw(model, n=8, prompt="a", max_new_tokens=40, stop=["ee", "\n"], temperature=2.0)
    texts = []
    for row, length in zip(samples.data, samples.extras["lengths"]):
        text = "".join(CHARS[i] for i in row[: int(length)].tolist())
        generated = text[1:]
        ends = [s for s in ("ee", "\n") if generated.endswith(s)]
        assert ends or len(generated) == 40, text
        if ends:  # nothing before the end holds a stop string
            assert not any(s in generated[: -len(ends[0])] for s in ("ee", "\n"))
        texts.append(text)
    assert any(len(t) < 41 for t in texts)
    assert (samples.data[0, int(samples.extras["lengths"][0]) :] == 0).all()


def test_decoding_keeps_within_the_context_length():
    model = toy(context_length=8)
    samples = draw(model, n=2, prompt="abcdeabcdeabc", max_new_tokens=30)
    assert samples.data.shape == (2, 13 + 30)
    assert max(model.net.calls) <= 8


def test_bad_options_are_one_line_errors():
    model = toy()
    with pytest.raises(ConfigError, match="top_p"):
        draw(model, top_p=0)
    with pytest.raises(ConfigError, match="temperature"):
        draw(model, temperature=-1)
    with pytest.raises(ConfigError, match="at most beams=2"):
        draw(model, n=3, sampler="beam", beams=2)
    with pytest.raises(ConfigError, match="max_new_tokens"):
        draw(model, max_new_tokens=2.5)
    with pytest.raises(GenloomError, match="not in this model's vocabulary"):
        draw(model, prompt="xyz")
    with pytest.raises(ConfigError, match="did you mean 'top_p'"):
        draw(model, topp=0.5)


def test_incompatible_model_is_refused():
    from genloom import IncompatibleSamplerError
    from genloom.model import GenerativeModel

    class NoNet(GenerativeModel):
        pass

    with pytest.raises(IncompatibleSamplerError, match="AutoregressiveGenerator"):
        NoNet().sample(1, sampler="multinomial")


def test_select_cache_uses_the_generators_own_method():
    class Custom:
        def select_cache(self, cache, index):
            return ("picked", index.tolist())

    assert select_cache(Custom(), object(), torch.tensor([1, 1])) == ("picked", [1, 1])
    cache = ({"k": torch.arange(6).view(3, 2)}, [torch.arange(3)])
    out = select_cache(object(), cache, torch.tensor([2, 0]))
    assert out[0]["k"].tolist() == [[4, 5], [0, 1]] and out[1][0].tolist() == [2, 0]


def test_text_stream_holds_back_unfinished_utf8():
    stream = TextStream(ByteTokenizer(), list(b"a"))
    assert stream.push() == "a"
    euro = list("€".encode())
    assert stream.push(euro[0]) == "" and stream.push(euro[1]) == ""
    assert stream.push(euro[2]) == "€"


def test_sample_text_streams_token_by_token_and_matches_the_samples():
    model = toy()
    pieces = []
    kind = TokensKind()
    samples = kind.draw(model, 2, seed=4, options={"prompt": "ab", "max_new_tokens": 12},
                        stream=pieces.append)
    streamed = "".join(pieces)
    texts = ["".join(CHARS[i] for i in row.tolist()) for row in samples.data]
    assert streamed == texts[0] + "\n" + "-" * 40 + "\n" + texts[1] + "\n"
    assert len(pieces) >= 2 * 12  # one write per token at least
    again = kind.draw(model, 2, seed=4, options={"prompt": "ab", "max_new_tokens": 12})
    assert torch.equal(again.data, samples.data)


def test_bits_per_character_counts_characters_not_bytes():
    model = toy(ByteTokenizer())
    text = "é" * 4 + "ab"  # 6 characters, 10 bytes
    x = torch.tensor([list(text.encode())])
    parts = model.validation_losses({"x": x})
    nats = model.token_nats(x).sum().detach()
    # the targets skip the first byte (a lead byte): 3 more "é" and "ab" are 5 characters
    assert float(parts["bpc"].detach()) == pytest.approx(float(nats) / 5 / math.log(2), rel=1e-6)


def test_language_model_needs_token_data():
    with pytest.raises(ValueError, match="token data"):
        ToyLM(DataInfo(kind="image", shape=(1, 8, 8)))
