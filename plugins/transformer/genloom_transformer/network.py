"""A decoder-only transformer whose ``step`` takes and returns an explicit KV cache.

Pre-norm blocks (LayerNorm -> causal self-attention through
``torch.nn.functional.scaled_dot_product_attention`` -> residual, LayerNorm -> MLP ->
residual), learned or rotary positions, token embedding tied to the output layer. ``bias=False``
drops the biases of every linear layer and LayerNorm (GPT-2 has them; nanoGPT's
``bias=False`` is slightly better and faster).
With ``num_classes > 0`` a class embedding of each row's label (``cond``) is added to
the token embedding at every position; without, ``cond`` is ignored and the network
(its parameters and their initialisation included) is exactly the unconditional one.

The cache is a tuple with one ``(keys, values)`` pair per layer, each
``(batch, heads, positions, head_dim)``: batch first, so the core's decoding can pick
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
    """Causal multi-head self-attention that appends to a per-layer KV cache."""

    def __init__(self, width: int, heads: int, dropout: float, bias: bool = True) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None, rope: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        n, t, width = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
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
        return self.resid_drop(self.proj(y)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: attention then a 4x GELU MLP, each on a residual."""

    def __init__(self, width: int, heads: int, dropout: float, bias: bool = True) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width, bias=bias), nn.LayerNorm(width, bias=bias)
        self.attn = Attention(width, heads, dropout, bias)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width, bias=bias), nn.GELU(),
            nn.Linear(4 * width, width, bias=bias), nn.Dropout(dropout),
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
    ) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width={width} must be divisible by heads={heads}")
        if positions not in ("learned", "rotary"):
            raise ValueError(f"positions='{positions}': choose 'learned' or 'rotary'")
        if positions == "rotary" and (width // heads) % 2:
            raise ValueError("rotary positions need an even head size (width / heads)")
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
            cos, sin = rotary_tables(context_length, width // heads)
            # derived from the config: not saved, so checkpoints hold learned weights only
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, dropout, bias) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, bias=bias)
        self.head = nn.Linear(width, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
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
        return self.head(hidden), hidden, tuple(new_cache)
