"""kNN-LM retrieval: the training corpus as a datastore of (hidden state, next token)
pairs, mixed into the next-token distribution at sampling time.

Why: a language model that has seen a fact once may still not reproduce it; looking
up the training positions whose context resembles the current one and voting for the
tokens that followed them puts the corpus itself back into generation (Khandelwal et
al., "Generalization through Memorization: Nearest Neighbor Language Models", 2020):

    p(next) = (1 - w) p_model(next) + w p_kNN(next)
    p_kNN(v) ∝ sum over the k nearest keys i with value v of exp(-d_i / T)

Keys are the network's final hidden state (what its output layer reads) at every
position of the training split, values the token that followed, and ``d`` the squared
Euclidean distance. The network must offer ``step_hidden`` (:class:`HasHiddenStates`;
the transformer plugin's does). ``genloom retrieve build RUN`` writes the datastore as
``RUN/retrieval/knn.safetensors`` (safetensors: loading it runs no code); the
``multinomial`` and ``greedy`` samplers use it with ``knn_weight``, ``knn_k``,
``knn_temperature`` and ``knn_store=RUN``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from genloom.errors import ConfigError

STORE = Path("retrieval") / "knn.safetensors"
#: the most positions a datastore may hold (a bound on what a file may make us allocate)
MAX_POSITIONS = 5_000_000


@runtime_checkable
class HasHiddenStates(Protocol):
    """A generator whose ``step`` can also return its final hidden state."""

    #: the width of the hidden state
    hidden_size: int

    def step_hidden(self, tokens: Tensor, cache: Any = None, cond: Tensor | None = None) -> tuple[Tensor, Tensor, Any]:
        """``(logits (n, t, vocab), hidden (n, t, width), cache)`` for ``tokens`` ``(n, t)``."""
        ...


def hidden_generator(model: Any) -> Any:
    """The model's generator, checked to expose :class:`HasHiddenStates`."""
    from genloom_text.language import LanguageModel

    gen = model.net if isinstance(model, LanguageModel) else model
    if not isinstance(gen, HasHiddenStates):
        raise ConfigError(
            f"kNN-LM retrieval needs a network with step_hidden (final hidden states); "
            f"{type(gen).__name__} has none (the transformer plugin's has)"
        )
    return gen


@dataclass
class Datastore:
    """Keys ``(N, width)`` float32, values ``(N,)`` long token ids, and where they came from."""

    keys: Tensor
    values: Tensor
    meta: dict[str, str] = field(default_factory=dict)
    _sq: Tensor | None = None

    def __len__(self) -> int:
        return int(self.values.numel())

    @property
    def squared_norms(self) -> Tensor:
        if self._sq is None:
            self._sq = (self.keys * self.keys).sum(dim=1)
        return self._sq

    def log_probs(self, queries: Tensor, vocab_size: int, k: int, temperature: float = 1.0,
                  chunk: int = 64) -> Tensor:
        """``log p_kNN`` ``(n, vocab)`` for ``queries`` ``(n, width)``, ``chunk`` rows at a
        time (each row's distances to every key are held at once)."""
        if len(queries) > chunk:
            return torch.cat([self.log_probs(queries[i : i + chunk], vocab_size, k, temperature, chunk)
                              for i in range(0, len(queries), chunk)])
        q = queries.float().to(self.keys.device)
        dist = (q * q).sum(dim=1, keepdim=True) - 2.0 * q @ self.keys.T + self.squared_norms[None, :]
        k = min(k, len(self))
        near, index = torch.topk(dist, k, dim=1, largest=False)
        weights = torch.log_softmax(-near.clamp(min=0) / temperature, dim=1)
        out = torch.full((q.shape[0], vocab_size), float("-inf"), device=q.device)
        # log-sum-exp of the weights of neighbours that share a value
        peak = weights.max(dim=1, keepdim=True).values
        mass = torch.zeros((q.shape[0], vocab_size), device=q.device)
        mass.scatter_add_(1, self.values[index].to(q.device), (weights - peak).exp())
        seen = mass > 0
        out[seen] = (mass.log() + peak)[seen]
        return out


def build_datastore(model: Any, tokens: Tensor, *, max_positions: int = 500_000, batch: int = 32,
                    progress: Any = None) -> Datastore:
    """Run ``model``'s network over ``tokens`` (a 1-D training split) in windows of its
    block size and keep (hidden state, next token) at every position. With more positions
    than ``max_positions``, evenly spaced windows are kept (deterministic)."""
    gen = hidden_generator(model)
    from genloom_text.language import LanguageModel

    width = model.block_size if isinstance(model, LanguageModel) else int(gen.context_length)
    if tokens.ndim != 1 or len(tokens) < 2:
        raise ConfigError("the training split holds fewer than 2 tokens: nothing to retrieve")
    if max_positions < 1:
        raise ConfigError(f"max_positions={max_positions}: give at least 1")
    starts = list(range(0, len(tokens) - 1, width))
    per = min(width, len(tokens) - 1)
    if len(starts) * per > max_positions:
        keep = max(1, max_positions // per)
        step = len(starts) / keep
        starts = [starts[int(i * step)] for i in range(keep)]
    device = next(gen.parameters()).device
    keys, values = [], []
    batches = [starts[i : i + batch] for i in range(0, len(starts), batch)]
    if progress is not None:
        batches = progress(batches, total=len(batches), desc="retrieval keys")
    with torch.inference_mode():
        for group in batches:
            rows = [tokens[s : s + width + 1] for s in group]
            full = [r for r in rows if len(r) == width + 1]
            short = [r for r in rows if len(r) != width + 1]
            # only the split's last window can be short: it runs on its own
            for chunk in ([torch.stack(full)] if full else []) + [r[None] for r in short]:
                chunk = chunk.to(device)
                _, hidden, _ = gen.step_hidden(chunk[:, :-1], None, None)
                keys.append(hidden.reshape(-1, hidden.shape[-1]).float().cpu())
                values.append(chunk[:, 1:].reshape(-1).cpu())
    return Datastore(torch.cat(keys), torch.cat(values).long(), {"positions": str(sum(len(v) for v in values))})


def save_datastore(store: Datastore, path: Path, meta: dict[str, str] | None = None) -> Path:
    """Write ``store`` as safetensors (keys float16, values int32), atomically."""
    from safetensors.torch import save

    from genloom.atomic import write_atomic

    data = save({"keys": store.keys.half().contiguous(), "values": store.values.int().contiguous()},
                metadata={**store.meta, **(meta or {}), "format": "genloom-knn-1"})
    return write_atomic(path, data)


def store_path(where: str | Path) -> Path:
    """A datastore file, or a run folder holding ``retrieval/knn.safetensors``."""
    p = Path(where)
    return p / STORE if p.is_dir() else p


_LOADED: dict[tuple[str, int, int], Datastore] = {}


def load_datastore(where: str | Path, width: int, vocab_size: int) -> Datastore:
    """Read and check a datastore (cached per file and modification time): keys
    ``(N, width)``, values in ``[0, vocab_size)``; a one-line error otherwise."""
    from safetensors import SafetensorError, safe_open

    path = store_path(where)
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(
            f"knn_store: no retrieval datastore at '{path}'; build one with: genloom retrieve build RUN"
        ) from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _LOADED:
        store = _LOADED[key]
    else:
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                names = set(f.keys())
                if names != {"keys", "values"} or meta.get("format") != "genloom-knn-1":
                    raise ConfigError(f"knn_store: '{path}' is not a genloom retrieval datastore")
                shape_k, shape_v = f.get_slice("keys").get_shape(), f.get_slice("values").get_shape()
                if len(shape_k) != 2 or shape_v != [shape_k[0]] or not 0 < shape_k[0] <= MAX_POSITIONS:
                    raise ConfigError(f"knn_store: '{path}' has keys {shape_k} and values {shape_v}")
                keys, values = f.get_tensor("keys").float(), f.get_tensor("values").long()
        except (SafetensorError, OSError, ValueError) as exc:
            raise ConfigError(f"knn_store: cannot read '{path}': {exc}") from None
        if bool((values < 0).any()) or bool((values >= vocab_size).any()):
            raise ConfigError(f"knn_store: '{path}' holds token ids outside this model's vocabulary")
        if not bool(torch.isfinite(keys).all()):
            raise ConfigError(f"knn_store: '{path}' holds keys that are not finite")
        store = Datastore(keys, values, dict(meta))
        _LOADED.clear()  # one at a time: a datastore can be hundreds of MB
        _LOADED[key] = store
    if store.keys.shape[1] != width:
        raise ConfigError(
            f"knn_store: '{path}' has keys of width {store.keys.shape[1]}, this model's hidden state "
            f"is {width} wide; build the datastore from this model"
        )
    return store


def check_knn(weight: float, k: int, temperature: float, store: Any) -> None:
    """One-line errors for meaningless kNN options."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ConfigError(f"knn_weight={weight!r} must be a number in [0, 1] (0 turns retrieval off)")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"knn_k={k!r} must be an integer >= 1")
    if not isinstance(temperature, (int, float)) or not temperature > 0 or math.isinf(temperature):
        raise ConfigError(f"knn_temperature={temperature!r} must be a positive number")
    if weight > 0 and store is None:
        raise ConfigError(
            f"knn_weight={weight} needs knn_store=RUN (a run with a datastore: genloom retrieve build RUN)"
        )


def mix(logits: Tensor, knn: Tensor, weight: float) -> Tensor:
    """``log((1 - w) softmax(logits) + w exp(knn))``; the logits unchanged when ``w`` is 0."""
    if weight == 0:
        return logits
    if weight == 1:
        return knn
    model = torch.log_softmax(logits.float(), dim=-1) + math.log1p(-weight)
    return torch.logaddexp(model, knn + math.log(weight))


class KNNGenerator(torch.nn.Module):
    """A generator whose ``step`` returns kNN-LM log-probabilities (for the last position)
    in place of logits; everything else (cache, context length) is the wrapped one's."""

    def __init__(self, gen: Any, store: Datastore, weight: float, k: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.gen, self.store, self.weight, self.k, self.temperature = gen, store, weight, k, temperature
        self.context_length, self.vocab_size = gen.context_length, gen.vocab_size

    def select_cache(self, cache: Any, index: Tensor) -> Any:
        from genloom_text.decoding.cache import select_cache

        return select_cache(self.gen, cache, index)

    def step(self, tokens: Tensor, cache: Any = None, cond: Tensor | None = None) -> tuple[Tensor, Any]:
        logits, hidden, cache = self.gen.step_hidden(tokens, cache, cond)
        last = logits[:, -1]
        if self.weight > 0:
            knn = self.store.log_probs(hidden[:, -1], last.shape[-1], self.k, self.temperature)
            last = mix(last, knn.to(last.device), self.weight)
        return last[:, None], cache


def knn_token_nats(model: Any, store: Datastore, x: Tensor, weight: float, k: int,
                   temperature: float = 1.0) -> Tensor:
    """Negative log-likelihood in nats of each of ``x[:, 1:]`` under the kNN-LM mixture:
    what held-out bits per character are computed from."""
    gen = hidden_generator(model)
    with torch.inference_mode():
        logits, hidden, _ = gen.step_hidden(x[:, :-1], None, None)
        flat = logits.reshape(-1, logits.shape[-1]).float()
        if weight > 0:
            knn = store.log_probs(hidden.reshape(-1, hidden.shape[-1]), flat.shape[-1], k, temperature)
            logp = mix(flat, knn, weight)
        else:
            logp = torch.log_softmax(flat, dim=-1)
        nats = -logp.gather(1, x[:, 1:].reshape(-1, 1)).squeeze(1)
    return nats.view(x.shape[0], -1)
