"""A decoder-only transformer whose ``step`` takes and returns an explicit KV cache.

Pre-norm blocks (LayerNorm -> causal self-attention through
``torch.nn.functional.scaled_dot_product_attention`` -> residual, LayerNorm -> MLP ->
residual), learned or rotary positions, token embedding tied to the output layer. ``bias=False``
drops the biases of every linear layer and LayerNorm (GPT-2 has them; nanoGPT's
``bias=False`` is slightly better and faster).
With ``num_classes > 0`` a class embedding of each row's label (``cond``) is added to
the token embedding at every position; without, ``cond`` is ignored and the network
(its parameters and their initialisation included) is exactly the unconditional one.

The options beyond GPT-2's shape hold Llama's (and most small open models'): ``norm=
"rmsnorm"``, ``activation="swiglu"`` with its own ``mlp_width``, grouped-query attention
(``kv_heads``), ``rope_base`` and an untied output layer (``tied=False``); their defaults
build exactly the network (and initial weights) this module built before they existed.

The nanoGPT speed-runs' changes are options too, each off by default: ``qk_norm``
(queries and keys RMS-normalised per head before the dot product, so attention logits
cannot grow without bound), ``activation="relu2"`` (squared ReLU), ``zero_init``
(every block's output projections start at zero: each block starts as the identity)
and ``logit_softcap`` (logits squashed by ``cap * tanh(logits / cap)``).

The cache is a tuple with one ``(keys, values)`` pair per layer, each
``(batch, kv_heads, positions, head_dim)``: batch first, so the core's decoding can pick
beams with ``index_select(0, ...)``. A step on ``t`` new tokens costs ``t`` positions of
compute against the cached ones, not the whole prefix.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom import AutoregressiveGenerator, ConfigError

Cache = tuple[tuple[Tensor, Tensor], ...]


def rotary_tables(positions: int, head_dim: int, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin ``(positions, head_dim)`` for rotary position embeddings (RoFormer)."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(positions, dtype=torch.float32), inv)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs ``(x[i], x[i + d/2])`` of ``x`` ``(..., t, d)`` by their position's angle."""
    half = x.shape[-1] // 2
    turned = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + turned * sin


class Attention(nn.Module):
    """Causal multi-head self-attention that appends to a per-layer KV cache.

    ``kv_heads < heads`` is grouped-query attention (Llama's shape): each key/value head
    serves ``heads / kv_heads`` query heads, and the cache holds only the ``kv_heads``."""

    def __init__(self, width: int, heads: int, dropout: float, bias: bool = True,
                 kv_heads: int = 0, qk_norm: bool = False) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.qk_norm = qk_norm
        self.kv_heads = kv_heads or heads
        # queries, keys, values in one matrix: rows [q (width), k, v (kv_heads * head_dim each)]
        self.qkv = nn.Linear(width, width + 2 * self.kv_heads * self.head_dim, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None, rope: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        n, t, width = x.shape
        kv_width = self.kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([width, kv_width, kv_width], dim=-1)
        q = q.view(n, t, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(n, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(n, t, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.qk_norm:  # unit RMS per head: bounded logits (no learned gain)
            q, k = F.rms_norm(q, (self.head_dim,)), F.rms_norm(k, (self.head_dim,))
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        cache = (k, v)
        if self.kv_heads != self.heads:
            group = self.heads // self.kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        p = k.shape[2] - t  # cached positions before these
        drop = self.dropout if self.training else 0.0
        if t == 1:  # one new query sees every key: no mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        elif p == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:  # query i is at position p + i and sees keys 0 .. p + i
            mask = torch.ones(t, p + t, dtype=torch.bool, device=x.device).tril(diagonal=p)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).reshape(n, t, width)
        return self.resid_drop(self.proj(y)), cache


class SwiGLU(nn.Module):
    """``silu(gate) * up`` of a linear layer's output ``[gate, up]`` (Llama's MLP)."""

    def forward(self, x: Tensor) -> Tensor:
        gate, up = x.chunk(2, dim=-1)
        return F.silu(gate) * up


class ReLU2(nn.Module):
    """``relu(x) ** 2`` (squared ReLU: Primer; the nanoGPT speed-runs' MLP)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x).square()


NORMS = ("layernorm", "rmsnorm")
ACTIVATIONS = ("gelu", "gelu_tanh", "swiglu", "relu2")


def _norm(kind: str, width: int, bias: bool, eps: float) -> nn.Module:
    if kind == "rmsnorm":
        return nn.RMSNorm(width, eps=eps)
    return nn.LayerNorm(width, eps=eps, bias=bias)


class Block(nn.Module):
    """Pre-norm transformer block: attention then an MLP, each on a residual.

    The MLP is GPT-2's (``gelu``/``gelu_tanh``: width -> mlp_width -> width), the same
    with a squared ReLU (``relu2``) or Llama's SwiGLU (``swiglu``: ``mlp.0`` makes gate
    and up in one matrix)."""

    def __init__(self, width: int, heads: int, dropout: float, bias: bool = True, *,
                 kv_heads: int = 0, norm: str = "layernorm", norm_eps: float = 1e-5,
                 activation: str = "gelu", mlp_width: int = 0, qk_norm: bool = False) -> None:
        super().__init__()
        self.ln1, self.ln2 = _norm(norm, width, bias, norm_eps), _norm(norm, width, bias, norm_eps)
        self.attn = Attention(width, heads, dropout, bias, kv_heads, qk_norm)
        hidden = mlp_width or 4 * width
        act: nn.Module = (SwiGLU() if activation == "swiglu" else ReLU2() if activation == "relu2"
                          else nn.GELU(approximate="tanh" if activation == "gelu_tanh" else "none"))
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * hidden if activation == "swiglu" else hidden, bias=bias), act,
            nn.Linear(hidden, width, bias=bias), nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, past: Any, rope: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.ln1(x), past, rope)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


class Transformer(AutoregressiveGenerator):
    """Token ids -> next-token logits, with an explicit KV cache."""

    def __init__(
        self,
        vocab_size: int,
        context_length: int,
        *,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        dropout: float = 0.0,
        positions: str = "learned",
        num_classes: int = 0,
        bias: bool = True,
        kv_heads: int = 0,
        norm: str = "layernorm",
        norm_eps: float = 1e-5,
        activation: str = "gelu",
        mlp_width: int = 0,
        tied: bool = True,
        rope_base: float = 10000.0,
        qk_norm: bool = False,
        zero_init: bool = False,
        logit_softcap: float = 0.0,
    ) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width={width} must be divisible by heads={heads}")
        if positions not in ("learned", "rotary"):
            raise ValueError(f"positions='{positions}': choose 'learned' or 'rotary'")
        if positions == "rotary" and (width // heads) % 2:
            raise ValueError("rotary positions need an even head size (width / heads)")
        if kv_heads and heads % kv_heads:
            raise ValueError(f"heads={heads} must be a multiple of kv_heads={kv_heads}")
        if norm not in NORMS:
            raise ValueError(f"norm='{norm}': choose one of {', '.join(NORMS)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation='{activation}': choose one of {', '.join(ACTIVATIONS)}")
        if logit_softcap < 0:
            raise ValueError(f"logit_softcap={logit_softcap} must be >= 0 (0: off)")
        self.logit_softcap = float(logit_softcap)
        self.vocab_size, self.context_length = vocab_size, context_length
        self.hidden_size = width  # genloom_text.retrieval.HasHiddenStates
        self.latent_shape, self.data_shape = (), (context_length,)
        self.positions = positions
        self.tok_emb = nn.Embedding(vocab_size, width)
        self.num_classes = num_classes
        # created only when conditional, so the unconditional network draws the same
        # initial weights from the same seed as before the option existed
        self.cls_emb = nn.Embedding(num_classes, width) if num_classes > 0 else None
        self.pos_emb = nn.Embedding(context_length, width) if positions == "learned" else None
        if positions == "rotary":
            cos, sin = rotary_tables(context_length, width // heads, rope_base)
            # derived from the config: not saved, so checkpoints hold learned weights only
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(width, heads, dropout, bias, kv_heads=kv_heads, norm=norm, norm_eps=norm_eps,
                  activation=activation, mlp_width=mlp_width, qk_norm=qk_norm)
            for _ in range(layers)
        )
        self.ln_f = _norm(norm, width, bias, norm_eps)
        self.head = nn.Linear(width, vocab_size, bias=False)
        if tied:
            self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                if zero_init:  # speed-runs: each block starts as the identity
                    nn.init.zeros_(p)
                else:
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def step(
        self, tokens: Tensor, cache: Cache | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Cache]:
        """Logits ``(n, t, vocab)`` for ``tokens`` ``(n, t)`` after the cached positions.

        ``cond`` holds one class label per row (or one for all rows) when the network
        is conditional; an unconditional network ignores it."""
        logits, _, new_cache = self.step_hidden(tokens, cache, cond)
        return logits, new_cache

    def step_hidden(
        self, tokens: Tensor, cache: Cache | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Cache]:
        """:meth:`step`, plus the final hidden state ``(n, t, width)`` the output layer
        reads (after the last LayerNorm): the keys of kNN-LM retrieval
        (``genloom_text.retrieval.HasHiddenStates``)."""
        past = 0 if cache is None else cache[0][0].shape[2]
        t = tokens.shape[1]
        if past + t > self.context_length:
            raise ValueError(
                f"{past} cached + {t} new positions exceed the context length {self.context_length}"
            )
        x = self.tok_emb(tokens)
        if self.cls_emb is not None:
            if cond is None:
                raise ConfigError(
                    "this transformer is class-conditional: give one label per row "
                    "(batch 'y', or --cond when sampling)"
                )
            x = x + self.cls_emb(cond.to(tokens.device).long())[:, None, :]
        rope = None
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(past, past + t, device=tokens.device))
        else:
            rope = (self.rope_cos[past : past + t], self.rope_sin[past : past + t])
        x = self.drop(x)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if cache is None else cache[i], rope)
            new_cache.append(kv)
        hidden = self.ln_f(x)
        logits = self.head(hidden)
        if self.logit_softcap:
            logits = self.logit_softcap * torch.tanh(logits / self.logit_softcap)
        return logits, hidden, tuple(new_cache)
